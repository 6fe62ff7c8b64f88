using System.Buffers.Binary;

namespace TrafficStore.Store.Tests.Store;

/// <summary>Hand-built frames of one HTTP connection between 10.0.0.1 (client) and 10.0.0.2:80, for tests that need exact TCP layouts.</summary>
internal static class TestTcpFrames
{
    public const byte Fin = 0x01, Syn = 0x02, Psh = 0x08, Ack = 0x10;
    public const string Client = "10.0.0.1", Server = "10.0.0.2";
    public const ushort ServerPort = 80;

    /// <summary>
    /// Ethernet II + IPv4 (RFC 791, 20 bytes, no options) + TCP (RFC 9293 §3.1, 20 bytes, no options), between
    /// <paramref name="clientPort"/> and port 80. Checksums are left zero (the decoder does not check them).
    /// </summary>
    public static byte[] Frame(ushort clientPort, bool fromClient, uint seq, uint ack, byte flags, byte[] payload)
    {
        var f = new byte[14 + 20 + 20 + payload.Length];
        byte[] macA = [2, 0, 0, 0, 0, 0xA], macB = [2, 0, 0, 0, 0, 0xB];
        (fromClient ? macB : macA).CopyTo(f, 0);
        (fromClient ? macA : macB).CopyTo(f, 6);
        f[12] = 0x08; // EtherType IPv4
        var ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(40 + payload.Length));
        ip[8] = 64;
        ip[9] = 6; // TCP
        System.Net.IPAddress.Parse(fromClient ? Client : Server).GetAddressBytes().CopyTo(ip[12..]);
        System.Net.IPAddress.Parse(fromClient ? Server : Client).GetAddressBytes().CopyTo(ip[16..]);
        var tcp = f.AsSpan(34, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, fromClient ? clientPort : ServerPort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], fromClient ? ServerPort : clientPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & Ack) != 0 ? ack : 0);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        payload.CopyTo(f, 54);
        return f;
    }
}
