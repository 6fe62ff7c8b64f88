using Apache.Arrow;
using TrafficStore.Engine;
using TrafficStore.Engine.Retention;

namespace TrafficStore.Store.Client;

/// <summary>
/// What the CLI commands need from a store, offline (<see cref="LocalTrafficClient"/> over a
/// <see cref="TrafficDatabase"/>) or through a server (the Flight client of TrafficStore.Server).
/// Every method throws <see cref="Query.QueryException"/> for a query or request that cannot run
/// (unknown table/column, bad time, ...), with a message that names the problem.
/// </summary>
public interface ITrafficClient : IAsyncDisposable
{
    /// <summary>Runs a query in the text or JSON form of docs/query-language.md (JSON when it starts with '{').</summary>
    Task<TrafficQueryResult> QueryAsync(string query, CancellationToken ct = default);

    /// <summary>Runs an already parsed query.</summary>
    Task<TrafficQueryResult> QueryAsync(Query.TrafficQuery query, CancellationToken ct = default);

    /// <summary>
    /// Writes the captured frames selected by <paramref name="request"/> to <paramref name="output"/> as a pcap or
    /// pcapng file, byte-identical to the captured frames, in capture order. Streams: frames are written as they are
    /// read, so memory stays bounded whatever the size of the result.
    /// </summary>
    Task<PcapExportSummary> ExportPcapAsync(PcapExportRequest request, Stream output, CancellationToken ct = default);

    /// <summary>The retention policy in force.</summary>
    Task<RetentionPolicy> GetRetentionPolicyAsync(CancellationToken ct = default);

    /// <summary>Replaces the retention policy (persisted; applied on the next run).</summary>
    Task SetRetentionPolicyAsync(RetentionPolicy policy, CancellationToken ct = default);

    /// <summary>Applies the retention policy now.</summary>
    Task<RetentionReport> ApplyRetentionAsync(CancellationToken ct = default);

    /// <summary>Per-table figures, WAL/index/retention counters and health.</summary>
    Task<StoreStatus> GetStatsAsync(CancellationToken ct = default);

    /// <summary>The stored messages (request and response) of one exchange, request first; empty when the id is unknown.</summary>
    Task<IReadOnlyList<PayloadMessage>> GetPayloadAsync(long exchangeId, CancellationToken ct = default);
}

/// <summary>
/// A running query: its schema (known before the first batch) and its batches, streamed.
/// <see cref="Warnings"/> is filled while enumerating (e.g. a quarantined segment in range) and complete after it.
/// </summary>
public sealed class TrafficQueryResult
{
    public TrafficQueryResult(Schema schema, IAsyncEnumerable<RecordBatch> batches, IReadOnlyList<string>? warnings = null)
    {
        Schema = schema;
        Batches = batches;
        Warnings = warnings ?? System.Array.Empty<string>();
    }

    public Schema Schema { get; }
    public IAsyncEnumerable<RecordBatch> Batches { get; }
    public IReadOnlyList<string> Warnings { get; }
}

/// <summary>
/// Which frames to export: exactly one of a connection (store-wide connection_id), a pod (frames
/// of connections where either end is the pod, optionally within a namespace), or only a time window.
/// <see cref="FromNs"/>/<see cref="ToNs"/> narrow any of them (<c>[from, to)</c> on the frame time).
/// </summary>
public sealed record PcapExportRequest
{
    public long? ConnectionId { get; init; }
    public string? Pod { get; init; }
    public string? Namespace { get; init; }
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    /// <summary>File format; <see cref="PcapExportFormat.Auto"/> writes classic pcap unless the frames have several link types.</summary>
    public PcapExportFormat Format { get; init; } = PcapExportFormat.Auto;
    /// <summary>
    /// Largest file to write, in bytes (headers included); null: no limit. Reaching it stops the export
    /// with a <see cref="PcapExportLimitException"/> (what was written so far is a valid but incomplete file).
    /// A server caps it with its own limit (docs/server.md, <c>export.pcap</c>).
    /// </summary>
    public long? MaxBytes { get; init; }
}

/// <summary>The file format of a pcap export.</summary>
public enum PcapExportFormat
{
    /// <summary>Classic pcap when the frames share one link type (or there are none), else pcapng.</summary>
    Auto,
    /// <summary>Classic libpcap, nanosecond timestamps (magic a1b23c4d); refused when the frames have several link types.</summary>
    Pcap,
    /// <summary>pcapng: one Interface Description Block per (capture, interface, link type), if_tsresol 9 (nanoseconds).</summary>
    PcapNg,
}

/// <summary>
/// What an export wrote. <see cref="LinkType"/> is the frames' common pcap link type, -1 when they have
/// several (<see cref="LinkTypes"/> lists them; only pcapng holds them in one file). <see cref="Format"/>
/// is the format written (never <see cref="PcapExportFormat.Auto"/>).
/// </summary>
public sealed record PcapExportSummary(long Frames, long Bytes, int LinkType, IReadOnlyList<string> Warnings)
{
    public PcapExportFormat Format { get; init; } = PcapExportFormat.Pcap;
    public IReadOnlyList<int> LinkTypes { get; init; } = [];
}

/// <summary>
/// The export reached <see cref="PcapExportRequest.MaxBytes"/> (or a server's limit). An <see cref="IOException"/>,
/// like a full disk: the request was valid, the output could not take it.
/// </summary>
public sealed class PcapExportLimitException(string message) : IOException(message);

/// <summary>Engine figures plus health, as <c>trafficstore stats</c> prints them.</summary>
public sealed record StoreStatus(EngineStats Engine, StoreHealth Health);

/// <summary>
/// One stored message of an exchange (a row of the payloads table). <see cref="Body"/> is the body
/// as transferred (after de-chunking / HTTP/2 framing, before content decoding); <see cref="DecodedBody"/>
/// after content decoding (null when there was no content coding or it could not be decoded).
/// </summary>
public sealed record PayloadMessage(
    long ExchangeId,
    long ConnectionId,
    string Direction,
    string Kind,
    long TimestampNs,
    string Headers,
    ReadOnlyMemory<byte> Body,
    ReadOnlyMemory<byte>? DecodedBody,
    bool Truncated);
