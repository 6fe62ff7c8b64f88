using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Parses one whole DNS message (RFC 1035 §4.1). Never throws: what cannot be read is left out
/// and named in <see cref="DnsMessage.Anomalies"/>; parsing stops at the first broken record.
/// </summary>
public static class DnsMessageReader
{
    public const int HeaderLength = 12;

    /// <summary>Returns null when <paramref name="message"/> is shorter than the 12-byte header.</summary>
    public static DnsMessage? Parse(ReadOnlySpan<byte> message, DnsOptions options)
    {
        // RFC 1035 §4.1.1
        // +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
        // |                      ID                       |
        // |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
        // |                    QDCOUNT                    |
        // |                    ANCOUNT                    |
        // |                    NSCOUNT                    |
        // |                    ARCOUNT                    |
        // +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
        if (message.Length < HeaderLength) return null;
        var m = new DnsMessage
        {
            Id = BinaryPrimitives.ReadUInt16BigEndian(message),
            Flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]),
            QuestionCount = BinaryPrimitives.ReadUInt16BigEndian(message[4..]),
            AnswerCount = BinaryPrimitives.ReadUInt16BigEndian(message[6..]),
            AuthorityCount = BinaryPrimitives.ReadUInt16BigEndian(message[8..]),
            AdditionalCount = BinaryPrimitives.ReadUInt16BigEndian(message[10..]),
        };
        int offset = HeaderLength;
        if (!ReadQuestions(message, ref offset, m, options)) return m;
        if (!ReadSection(message, ref offset, m.AnswerCount, m.Answers, m, options)) return m;
        if (!ReadSection(message, ref offset, m.AuthorityCount, m.Authority, m, options)) return m;
        if (!ReadSection(message, ref offset, m.AdditionalCount, m.Additional, m, options)) return m;
        if (offset < message.Length) m.Anomalies.Add(DnsAnomaly.TrailingBytes);
        return m;
    }

    private static bool ReadQuestions(ReadOnlySpan<byte> message, ref int offset, DnsMessage m, DnsOptions options)
    {
        int count = m.QuestionCount;
        if (count > options.MaxRecordsPerSection) { m.Anomalies.Add(DnsAnomaly.TooManyRecords); count = options.MaxRecordsPerSection; }
        for (int i = 0; i < count; i++)
        {
            // RFC 1035 §4.1.2: QNAME, QTYPE (16), QCLASS (16)
            string? name = DnsNameReader.Read(message, ref offset, options.MaxPointerHops, out var anomaly);
            if (name is null) { m.Anomalies.Add(anomaly!.Value); return false; }
            if (offset + 4 > message.Length) { m.Anomalies.Add(DnsAnomaly.Truncated); return false; }
            m.Questions.Add(new DnsQuestion(name,
                BinaryPrimitives.ReadUInt16BigEndian(message[offset..]),
                BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..])));
            offset += 4;
        }
        return count == m.QuestionCount;
    }

    private static bool ReadSection(ReadOnlySpan<byte> message, ref int offset, int declared, List<DnsRecord> into, DnsMessage m, DnsOptions options)
    {
        int count = declared;
        if (count > options.MaxRecordsPerSection) { m.Anomalies.Add(DnsAnomaly.TooManyRecords); count = options.MaxRecordsPerSection; }
        for (int i = 0; i < count; i++)
        {
            // RFC 1035 §4.1.3
            // |  NAME  | TYPE (16) | CLASS (16) | TTL (32) | RDLENGTH (16) | RDATA (RDLENGTH) |
            string? name = DnsNameReader.Read(message, ref offset, options.MaxPointerHops, out var anomaly);
            if (name is null) { m.Anomalies.Add(anomaly!.Value); return false; }
            if (offset + 10 > message.Length) { m.Anomalies.Add(DnsAnomaly.Truncated); return false; }
            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            ushort cls = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(offset + 4)..]);
            int rdLength = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10;
            if (offset + rdLength > message.Length) { m.Anomalies.Add(DnsAnomaly.Truncated); return false; }
            if (type == DnsRdataFormatter.TypeOpt)
            {
                // RFC 6891 §6.1.3: CLASS = requestor's UDP payload size; TTL = EXTENDED-RCODE | VERSION | DO | Z
                m.Edns ??= new DnsEdns(cls, (byte)(ttl >> 24), (byte)(ttl >> 16), (ttl & 0x8000) != 0);
            }
            string data = DnsRdataFormatter.Format(message, offset, rdLength, type, options, out bool badRdata);
            if (badRdata && !m.Anomalies.Contains(DnsAnomaly.BadRdata)) m.Anomalies.Add(DnsAnomaly.BadRdata);
            into.Add(new DnsRecord(name, type, cls, ttl, data));
            offset += rdLength;
        }
        return count == declared;
    }
}
