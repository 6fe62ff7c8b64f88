namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// One DNS transaction: a query and its response, a query never answered, or a response whose
/// query was not seen. The query-side fields are null for a lone response, and vice versa.
/// </summary>
public sealed class DnsTransaction
{
    public long? QueryFrame { get; set; }
    public long? QueryTimestampNs { get; set; }
    /// <summary>"udp" or "tcp".</summary>
    public required string Transport { get; init; }
    /// <summary>The query's sender (for a lone response: its receiver).</summary>
    public required string ClientIp { get; init; }
    public required int ClientPort { get; init; }
    public required string ServerIp { get; init; }
    public required int ServerPort { get; init; }
    public required int Id { get; init; }
    /// <summary>First question's name (from the query, else the response).</summary>
    public string? QueryName { get; set; }
    public int? QueryType { get; set; }
    public string? QueryTypeName => QueryType is { } t ? DnsTypeNames.Get((ushort)t) : null;
    public int? QueryClass { get; set; }
    public int? Opcode { get; set; }

    public long? ResponseFrame { get; set; }
    public long? ResponseTimestampNs { get; set; }
    /// <summary>4-bit header RCODE of the response.</summary>
    public int? Rcode { get; set; }
    public string? RcodeName => Rcode is { } r ? DnsRcodeNames.Get(r) : null;
    /// <summary>12-bit RCODE including the EDNS extended bits (RFC 6891 §6.1.3).</summary>
    public int? ExtendedRcode { get; set; }
    /// <summary>ANCOUNT of the response header.</summary>
    public int? AnswerCount { get; set; }
    public int? AuthorityCount { get; set; }
    public int? AdditionalCount { get; set; }
    public long? ResponseTimeNs => QueryTimestampNs is { } q && ResponseTimestampNs is { } r ? r - q : null;

    /// <summary>Answer-section records of the response, in order.</summary>
    public IReadOnlyList<DnsRecord> Answers { get; set; } = Array.Empty<DnsRecord>();
    public IReadOnlyList<DnsRecord> AuthorityRecords { get; set; } = Array.Empty<DnsRecord>();
    public IReadOnlyList<DnsRecord> AdditionalRecords { get; set; } = Array.Empty<DnsRecord>();

    public bool? RecursionDesired { get; set; }
    public bool? Authoritative { get; set; }
    public bool? TruncatedFlag { get; set; }
    public bool? RecursionAvailable { get; set; }
    public bool? AuthenticData { get; set; }
    /// <summary>EDNS UDP payload size of the query (else of the response).</summary>
    public int? EdnsUdpSize { get; set; }
    public bool? EdnsDnssecOk { get; set; }

    /// <summary>"dns", "mdns" (port 5353, RFC 6762) or "llmnr" (port 5355, RFC 4795).</summary>
    public required string Variant { get; init; }
    /// <summary>The flow's connection id (tcp.stream for TCP).</summary>
    public required long ConnectionId { get; init; }
    /// <summary>This query repeated the id of an unanswered query within the retransmission window.</summary>
    public bool QueryRetransmission { get; set; }
    /// <summary>This response repeated one already matched to the query.</summary>
    public bool ResponseRetransmission { get; set; }
    public SortedSet<string> Anomalies { get; } = new(StringComparer.Ordinal);

    /// <summary>Sort key of the dns table: the query frame, or the response frame for a lone response.</summary>
    public long OrderFrame => QueryFrame ?? ResponseFrame ?? 0;
}

/// <summary>RCODE mnemonics of RFC 1035 §4.1.1 / RFC 2136 §2.2 as the oracle prints them.</summary>
public static class DnsRcodeNames
{
    private static readonly string[] Names = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE" };

    /// <summary>The mnemonic, or the number as text for codes without one (as tshark-oracle.sh does).</summary>
    public static string Get(int rcode) => rcode >= 0 && rcode < Names.Length ? Names[rcode] : rcode.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
