namespace TrafficStore.Store.Tables;

/// <summary>One message (request or response) of an HTTP exchange, for the payloads table.</summary>
public sealed class PayloadRow
{
    public required long TimestampNs { get; init; }
    public required long ExchangeId { get; init; }
    public required long ConnectionId { get; init; }
    /// <summary>c2s (request) or s2c (response).</summary>
    public required string Direction { get; init; }
    /// <summary>request or response.</summary>
    public required string Kind { get; init; }
    /// <summary>Start line, header fields and trailers as "name: value" lines.</summary>
    public required string Headers { get; init; }
    public byte[]? Body { get; init; }
    public byte[]? BodyDecoded { get; init; }
    /// <summary>Set instead of <see cref="BodyDecoded"/> when decoding <see cref="Body"/> with these codings gives it back.</summary>
    public string? BodyDecodedFrom { get; init; }
    /// <summary>
    /// With <see cref="BodyDecodedFrom"/>: the decoded body's length, so reads decode exactly that much whatever decoded-body
    /// cap applied at ingest (<see cref="Ingest.DecodedBodyDerivation.Decode"/>).
    /// </summary>
    public long? BodyDecodedLength { get; init; }
    public bool Truncated { get; init; }
}

/// <summary>One ingest run, for the capture_stats table.</summary>
public sealed class CaptureStatsRow
{
    public required long StartedNs { get; init; }
    public long? FinishedNs { get; init; }
    public required long CaptureId { get; init; }
    public required string Source { get; init; }
    /// <summary>started (written first: reserves the capture id), complete, error, cancelled.</summary>
    public required string State { get; init; }
    public long Frames { get; init; }
    public long Packets { get; init; }
    public long Bytes { get; init; }
    public long TcpConnections { get; init; }
    public long UdpFlows { get; init; }
    public long HttpExchanges { get; init; }
    public long DnsTransactions { get; init; }
    public long TlsHandshakes { get; init; }
    public long? FirstFrameNs { get; init; }
    public long? LastFrameNs { get; init; }
    public string? DecoderAnomalies { get; init; }
    public string? Error { get; init; }
    public long? ErrorOffset { get; init; }
    public string? K8sSnapshot { get; init; }
    /// <summary>Live capture (agent): the capturing node.</summary>
    public string? Node { get; init; }
    /// <summary>Live capture: libpcap's received / kernel-dropped / interface-dropped packet counters so far.</summary>
    public long? CaptureReceived { get; init; }
    public long? CaptureDroppedKernel { get; init; }
    public long? CaptureDroppedInterface { get; init; }
    /// <summary>Live capture: rows and batches the agent itself discarded so far (its spool was full).</summary>
    public long? AgentDroppedRows { get; init; }
    public long? AgentDroppedBatches { get; init; }
}

/// <summary>
/// A connection's counters at the end of one active second, valid from that second's start until
/// the next active second of the connection (or the end of this one), for as-of queries.
/// </summary>
public sealed class TimelineRow
{
    public required long StartNs { get; init; }
    public required long EndNs { get; set; }
    public required long ConnectionId { get; init; }
    public required string Transport { get; init; }
    public long PacketsC2S { get; init; }
    public long PacketsS2C { get; init; }
    public long BytesC2S { get; init; }
    public long BytesS2C { get; init; }
    public long PayloadC2S { get; init; }
    public long PayloadS2C { get; init; }
    public long Syn { get; init; }
    public long Fin { get; init; }
    public long Rst { get; init; }
    public long Retransmissions { get; init; }
}
