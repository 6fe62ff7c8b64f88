using System.Buffers.Binary;
using System.Net;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// Builds packets layer by layer as byte arrays, from the RFC layouts, for decoder tests.
/// Each method wraps a payload in one header.
/// </summary>
internal static class PacketBytes
{
    public static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0xA];
    public static readonly byte[] MacB = [0x02, 0, 0, 0, 0, 0xB];

    public static byte[] Ethernet(ushort etherType, byte[] payload) =>
        [.. MacB, .. MacA, (byte)(etherType >> 8), (byte)etherType, .. payload];

    /// <summary>An 802.1Q-style tag to put between the MAC addresses and the inner EtherType.</summary>
    public static byte[] EthernetTagged(ushort[] tagTypes, ushort[] vlanIds, ushort innerType, byte[] payload)
    {
        var bytes = new List<byte>();
        bytes.AddRange(MacB);
        bytes.AddRange(MacA);
        for (int i = 0; i < tagTypes.Length; i++)
        {
            bytes.Add((byte)(tagTypes[i] >> 8)); bytes.Add((byte)tagTypes[i]);
            ushort tci = (ushort)(0xA000 | vlanIds[i]); // PCP 5, DEI 0
            bytes.Add((byte)(tci >> 8)); bytes.Add((byte)tci);
        }
        bytes.Add((byte)(innerType >> 8)); bytes.Add((byte)innerType);
        bytes.AddRange(payload);
        return bytes.ToArray();
    }

    public static byte[] Sll(ushort protocol, byte[] payload) =>
        [0, 0, 0, 1, 0, 6, .. MacA, 0, 0, (byte)(protocol >> 8), (byte)protocol, .. payload];

    public static byte[] Sll2(ushort protocol, byte[] payload) =>
        [(byte)(protocol >> 8), (byte)protocol, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, .. MacA, 0, 0, .. payload];

    public static byte[] Null(uint family, bool bigEndian, byte[] payload)
    {
        var header = new byte[4];
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(header, family);
        else BinaryPrimitives.WriteUInt32LittleEndian(header, family);
        return [.. header, .. payload];
    }

    public static byte[] Ipv4(string source, string destination, byte protocol, byte[] payload, byte[]? options = null,
        ushort identification = 0x1234, bool moreFragments = false, int fragmentOffset = 0, byte ttl = 64,
        int? totalLengthOverride = null, int? ihlOverride = null)
    {
        options ??= [];
        if (options.Length % 4 != 0) throw new ArgumentException("IPv4 options are padded to 32 bits");
        int headerLength = 20 + options.Length;
        var h = new byte[headerLength];
        h[0] = (byte)(0x40 | (ihlOverride ?? headerLength / 4));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(totalLengthOverride ?? headerLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), identification);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)((moreFragments ? 0x2000 : 0) | (fragmentOffset / 8)));
        h[8] = ttl;
        h[9] = protocol;
        IPAddress.Parse(source).GetAddressBytes().CopyTo(h, 12);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(h, 16);
        options.CopyTo(h, 20);
        return [.. h, .. payload];
    }

    public static byte[] Ipv6(string source, string destination, byte nextHeader, byte[] payload, byte hopLimit = 64, int? payloadLengthOverride = null)
    {
        var h = new byte[40];
        h[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)(payloadLengthOverride ?? payload.Length));
        h[6] = nextHeader;
        h[7] = hopLimit;
        IPAddress.Parse(source).GetAddressBytes().CopyTo(h, 8);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(h, 24);
        return [.. h, .. payload];
    }

    /// <summary>A generic IPv6 extension header (hop-by-hop, routing, destination options) of 8*(units+1) bytes.</summary>
    public static byte[] Ipv6Extension(byte nextHeader, int units, byte[] payload)
    {
        var h = new byte[8 * (units + 1)];
        h[0] = nextHeader;
        h[1] = (byte)units;
        h[2] = 1; // PadN option filling the rest
        h[3] = (byte)(h.Length - 4);
        return [.. h, .. payload];
    }

    /// <summary>IPsec AH (RFC 4302): length in 4-byte units minus 2; 12 fixed bytes + 12 bytes ICV.</summary>
    public static byte[] AuthenticationHeader(byte nextHeader, byte[] payload)
    {
        var h = new byte[24];
        h[0] = nextHeader;
        h[1] = 24 / 4 - 2;
        return [.. h, .. payload];
    }

    public static byte[] Ipv6Fragment(byte nextHeader, int offset, bool more, uint identification, byte[] payload)
    {
        var h = new byte[8];
        h[0] = nextHeader;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(offset | (more ? 1 : 0)));
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), identification);
        return [.. h, .. payload];
    }

    public static byte[] Tcp(ushort sourcePort, ushort destinationPort, uint sequence, uint acknowledgment, ushort flags,
        ushort window, byte[] payload, byte[]? options = null, int? dataOffsetOverride = null)
    {
        options ??= [];
        if (options.Length % 4 != 0) throw new ArgumentException("TCP options are padded to 32 bits");
        var h = new byte[20 + options.Length];
        BinaryPrimitives.WriteUInt16BigEndian(h, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(8), acknowledgment);
        int dataOffset = dataOffsetOverride ?? h.Length / 4;
        h[12] = (byte)((dataOffset << 4) | ((flags >> 8) & 1));
        h[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), window);
        options.CopyTo(h, 20);
        return [.. h, .. payload];
    }

    public static byte[] Udp(ushort sourcePort, ushort destinationPort, byte[] payload, int? lengthOverride = null)
    {
        var h = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(h, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)(lengthOverride ?? 8 + payload.Length));
        return [.. h, .. payload];
    }

    public static byte[] Gre(ushort protocolType, byte[] payload, uint? key = null, uint? sequence = null, bool checksum = false)
    {
        var h = new List<byte>();
        ushort flags = (ushort)((checksum ? 0x8000 : 0) | (key is null ? 0 : 0x2000) | (sequence is null ? 0 : 0x1000));
        h.Add((byte)(flags >> 8)); h.Add((byte)flags);
        h.Add((byte)(protocolType >> 8)); h.Add((byte)protocolType);
        if (checksum) h.AddRange(new byte[4]);
        if (key is { } k) h.AddRange(BitConverter.GetBytes(k));
        if (sequence is { } s) h.AddRange(BitConverter.GetBytes(s));
        h.AddRange(payload);
        return h.ToArray();
    }

    public static byte[] Text(string s) => System.Text.Encoding.ASCII.GetBytes(s);
}
