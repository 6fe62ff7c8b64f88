namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>Caps and timers of the DNS parser. Hitting a cap records an anomaly; nothing is cut silently.</summary>
public sealed class DnsOptions
{
    /// <summary>Compression pointers followed in one name before giving up (anomaly dns_pointer_hops_exceeded).</summary>
    public int MaxPointerHops { get; init; } = 32;

    /// <summary>Records parsed per section (anomaly dns_too_many_records). A 64 KiB message holds at most ~5,000 minimal RRs.</summary>
    public int MaxRecordsPerSection { get; init; } = 1024;

    /// <summary>Unanswered queries kept per flow (anomaly dns_pending_limit; the oldest is emitted unanswered).</summary>
    public int MaxPendingQueries { get; init; } = 4096;

    /// <summary>
    /// A query repeating the id of an unanswered query within this time is a retransmission of it
    /// (tshark's dns.retransmission_timer, default 5 s); later it starts a new transaction.
    /// </summary>
    public long RetransmissionWindowNs { get; init; } = 5_000_000_000L;

}
