namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>One question entry (RFC 1035 §4.1.2).</summary>
public readonly record struct DnsQuestion(string Name, ushort Type, ushort Class);

/// <summary>One resource record (RFC 1035 §4.1.3) with its RDATA rendered as text.</summary>
/// <param name="Data">Presentation-style text of the RDATA ("93.184.216.34", "10 mx.example.com").</param>
public sealed record DnsRecord(string Name, ushort Type, ushort Class, uint Ttl, string Data)
{
    public string TypeName => DnsTypeNames.Get(Type) ?? "TYPE" + Type;
}

/// <summary>EDNS(0) values from an OPT pseudo-record (RFC 6891 §6.1.3).</summary>
public readonly record struct DnsEdns(ushort UdpPayloadSize, byte ExtendedRcodeHigh, byte Version, bool DnssecOk);

/// <summary>A parsed DNS message. Sections hold what could be read before a problem; <see cref="Anomalies"/> says what went wrong.</summary>
public sealed class DnsMessage
{
    public ushort Id { get; init; }
    public ushort Flags { get; init; }
    public ushort QuestionCount { get; init; }
    public ushort AnswerCount { get; init; }
    public ushort AuthorityCount { get; init; }
    public ushort AdditionalCount { get; init; }
    public List<DnsQuestion> Questions { get; } = new();
    public List<DnsRecord> Answers { get; } = new();
    public List<DnsRecord> Authority { get; } = new();
    public List<DnsRecord> Additional { get; } = new();
    public DnsEdns? Edns { get; set; }
    public List<DnsAnomaly> Anomalies { get; } = new();

    // Header flags, RFC 1035 §4.1.1 (AD/CD from RFC 4035 §3.2):
    //                                 1  1  1  1  1  1
    //   0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
    // +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    // |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
    // +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
    public bool IsResponse => (Flags & 0x8000) != 0;
    public int Opcode => (Flags >> 11) & 0xF;
    public bool Authoritative => (Flags & 0x0400) != 0;
    public bool Truncated => (Flags & 0x0200) != 0;
    public bool RecursionDesired => (Flags & 0x0100) != 0;
    public bool RecursionAvailable => (Flags & 0x0080) != 0;
    public bool AuthenticData => (Flags & 0x0020) != 0;
    public bool CheckingDisabled => (Flags & 0x0010) != 0;

    /// <summary>The 4-bit header RCODE (what tshark shows as dns.flags.rcode).</summary>
    public int Rcode => Flags & 0xF;

    /// <summary>The 12-bit extended RCODE when an OPT record is present (RFC 6891 §6.1.3), else the header RCODE.</summary>
    public int ExtendedRcode => Edns is { } e ? (e.ExtendedRcodeHigh << 4) | Rcode : Rcode;
}
