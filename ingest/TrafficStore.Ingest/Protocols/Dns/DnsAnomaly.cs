namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Oddities found while parsing DNS. A closed set: the stable snake_case names
/// (<see cref="DnsAnomalies.Name"/>) are stored in the dns table's <c>anomalies</c> column.
/// </summary>
public enum DnsAnomaly : byte
{
    /// <summary>The message ended inside the header, a question, a record or a name.</summary>
    Truncated,
    /// <summary>A compression pointer led back to a place the name already visited (RFC 1035 §4.1.4).</summary>
    PointerLoop,
    /// <summary>More compression pointers in one name than <see cref="DnsOptions.MaxPointerHops"/>.</summary>
    PointerHopsExceeded,
    /// <summary>A name longer than 255 octets in wire form (RFC 1035 §2.3.4).</summary>
    NameTooLong,
    /// <summary>A label type 0b01/0b10 (extended/binary labels, RFC 6891 §5 deprecated them).</summary>
    BadLabelType,
    /// <summary>Section counts asked for more records than <see cref="DnsOptions.MaxRecordsPerSection"/>.</summary>
    TooManyRecords,
    /// <summary>RDATA shorter than its type needs, or a field ran past RDLENGTH.</summary>
    BadRdata,
    /// <summary>Bytes left after the last record the header counted.</summary>
    TrailingBytes,
    /// <summary>Unanswered queries in a flow exceeded <see cref="DnsOptions.MaxPendingQueries"/>; the oldest was flushed.</summary>
    PendingLimit,
    /// <summary>Bytes of a DNS-over-TCP stream were missing; that direction stopped being parsed.</summary>
    TcpGap,
    /// <summary>A TCP length prefix of 0 or shorter than a DNS header.</summary>
    TcpBadLength,
}

public static class DnsAnomalies
{
    public static string Name(DnsAnomaly a) => a switch
    {
        DnsAnomaly.Truncated => "dns_truncated",
        DnsAnomaly.PointerLoop => "dns_pointer_loop",
        DnsAnomaly.PointerHopsExceeded => "dns_pointer_hops_exceeded",
        DnsAnomaly.NameTooLong => "dns_name_too_long",
        DnsAnomaly.BadLabelType => "dns_bad_label_type",
        DnsAnomaly.TooManyRecords => "dns_too_many_records",
        DnsAnomaly.BadRdata => "dns_bad_rdata",
        DnsAnomaly.TrailingBytes => "dns_trailing_bytes",
        DnsAnomaly.PendingLimit => "dns_pending_limit",
        DnsAnomaly.TcpGap => "dns_tcp_gap",
        DnsAnomaly.TcpBadLength => "dns_tcp_bad_length",
        _ => "dns_unknown",
    };
}
