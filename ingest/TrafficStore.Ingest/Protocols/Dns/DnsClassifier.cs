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

    /// <summary>
    /// DNS over TCP (RFC 1035 §4.2.2): a 2-byte length, then a message. Binary protocols often
    /// start with bytes that pass a header check, so the answer is Yes only when the whole first
    /// message is present and parses cleanly; while it is incomplete the answer is NeedMoreData
    /// (the dispatcher falls back to the port when its buffer fills).
    /// </summary>
    public static ProtocolMatch ClassifyStream(ReadOnlySpan<byte> firstBytes)
    {
        if (firstBytes.Length < 2 + DnsMessageReader.HeaderLength) return ProtocolMatch.NeedMoreData;
        int length = BinaryPrimitives.ReadUInt16BigEndian(firstBytes);
        if (length < DnsMessageReader.HeaderLength) return ProtocolMatch.No;
        var header = firstBytes.Slice(2, DnsMessageReader.HeaderLength);
        int opcode = (BinaryPrimitives.ReadUInt16BigEndian(header[2..]) >> 11) & 0xF;
        if (opcode is 3 or > 6) return ProtocolMatch.No;
        int qd = BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
        int rr = BinaryPrimitives.ReadUInt16BigEndian(header[6..]) + BinaryPrimitives.ReadUInt16BigEndian(header[8..]) + BinaryPrimitives.ReadUInt16BigEndian(header[10..]);
        if (DnsMessageReader.HeaderLength + 5L * qd + 11L * rr > length) return ProtocolMatch.No;
        if (firstBytes.Length < 2 + length) return ProtocolMatch.NeedMoreData;
        var message = DnsMessageReader.Parse(firstBytes.Slice(2, length), ClassifierOptions);
        return message is { Anomalies.Count: 0 } && (message.QuestionCount > 0 || message.IsResponse) ? ProtocolMatch.Yes : ProtocolMatch.No;
    }

    private static readonly DnsOptions ClassifierOptions = new();
}
