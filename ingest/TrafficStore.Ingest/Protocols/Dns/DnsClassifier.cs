using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>Decides from the first bytes whether a datagram or a TCP stream carries DNS.</summary>
public static class DnsClassifier
{
    /// <summary>A DNS message: a 12-byte header with a defined opcode and counts the message could hold.</summary>
    public static ProtocolMatch ClassifyMessage(ReadOnlySpan<byte> message)
    {
        if (message.Length < DnsMessageReader.HeaderLength) return ProtocolMatch.No;
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        int opcode = (flags >> 11) & 0xF;
        // RFC 6895 §2.2: 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE, 6 DSO
        if (opcode is 3 or > 6) return ProtocolMatch.No;
        int qd = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        int ns = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        int ar = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        // a question takes at least 5 bytes, a record at least 11
        long minimum = DnsMessageReader.HeaderLength + 5L * qd + 11L * (an + ns + ar);
        if (qd == 0 && an + ns + ar == 0 && (flags & 0x8000) == 0) return ProtocolMatch.No;
        return minimum <= message.Length ? ProtocolMatch.Yes : ProtocolMatch.No;
    }

    /// <summary>DNS over TCP (RFC 1035 §4.2.2): a 2-byte length, then a message.</summary>
    public static ProtocolMatch ClassifyStream(ReadOnlySpan<byte> firstBytes)
    {
        if (firstBytes.Length < 2 + DnsMessageReader.HeaderLength) return ProtocolMatch.NeedMoreData;
        int length = BinaryPrimitives.ReadUInt16BigEndian(firstBytes);
        if (length < DnsMessageReader.HeaderLength) return ProtocolMatch.No;
        var header = firstBytes.Slice(2, DnsMessageReader.HeaderLength);
        // judge the counts against the announced length, not against what has arrived so far
        Span<byte> probe = stackalloc byte[DnsMessageReader.HeaderLength];
        header.CopyTo(probe);
        int qd = BinaryPrimitives.ReadUInt16BigEndian(probe[4..]);
        int rr = BinaryPrimitives.ReadUInt16BigEndian(probe[6..]) + BinaryPrimitives.ReadUInt16BigEndian(probe[8..]) + BinaryPrimitives.ReadUInt16BigEndian(probe[10..]);
        int opcode = (BinaryPrimitives.ReadUInt16BigEndian(probe[2..]) >> 11) & 0xF;
        if (opcode is 3 or > 6) return ProtocolMatch.No;
        return DnsMessageReader.HeaderLength + 5L * qd + 11L * rr <= length ? ProtocolMatch.Yes : ProtocolMatch.No;
    }
}
