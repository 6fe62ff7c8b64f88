using System.Buffers.Binary;
using System.Globalization;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Process;

/// <summary>A socket's local end as /proc/net/{tcp,udp}{,6} lists it.</summary>
public readonly record struct LocalSocket(SocketProtocol Protocol, NetAddress Address, ushort Port);

/// <summary>
/// Parses /proc/net/tcp, tcp6, udp, udp6 (see the kernel's net/ipv4/tcp_ipv4.c get_tcp4_sock):
/// <code>
///   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
///    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 123456 ...
/// </code>
/// Addresses are the in-memory 32-bit words printed with %08X, so on a little-endian host each word's
/// bytes are reversed relative to network order; ports are printed as numbers (%04X).
/// </summary>
public static class ProcNetTable
{
    public static IEnumerable<(LocalSocket Socket, long Inode)> Parse(string text, SocketProtocol protocol)
    {
        bool header = true;
        foreach (var line in text.Split('\n'))
        {
            if (header) { header = false; continue; }
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10) continue;
            if (!TryParseEndpoint(fields[1], out var address, out ushort port)) continue;
            if (!long.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out long inode) || inode == 0) continue;
            yield return (new LocalSocket(protocol, address, port), inode);
        }
    }

    public static bool TryParseEndpoint(string text, out NetAddress address, out ushort port)
    {
        address = default;
        port = 0;
        int colon = text.IndexOf(':');
        if (colon < 0) return false;
        var hex = text.AsSpan(0, colon);
        if (!ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port)) return false;
        if (hex.Length is not (8 or 32)) return false;

        Span<byte> bytes = stackalloc byte[16];
        for (int word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint value)) return false;
            // The word was printed from memory in host order: write it back the same way to get the wire bytes.
            if (BitConverter.IsLittleEndian) BinaryPrimitives.WriteUInt32LittleEndian(bytes[(word * 4)..], value);
            else BinaryPrimitives.WriteUInt32BigEndian(bytes[(word * 4)..], value);
        }
        address = NetAddress.FromBytes(bytes[..(hex.Length / 2)]);
        return true;
    }
}
