using Apache.Arrow;
using TrafficStore.Engine.Catalog;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Ingest.TcpAnalysis;

namespace TrafficStore.Store.Tables;

/// <summary>One table of the store: its definition (columns, public API), engine spec and Arrow schema.</summary>
public sealed record StoreTable(string Name, string Description, IReadOnlyList<StoreColumn> Columns, TableSpec Spec)
{
    public Schema Schema => Spec.Schema;
    public bool HasColumn(string name) => Columns.Any(c => c.Name == name);
}

/// <summary>A column as documented in docs/tables.md.</summary>
public sealed record StoreColumn(string Name, ColumnKind Kind, string Description);

/// <summary>
/// The store's tables (docs/tables.md): the pipeline's tables defined once in TrafficStore.Ingest,
/// plus store columns (capture_id, store-wide connection_id / exchange_id, the Kubernetes identity of
/// both ends on the L7 tables, the retention namespace), and the store's own tables: payloads,
/// packets, capture_stats and connection_timeline.
/// </summary>
public static class TrafficTables
{
    public const string Connections = "connections", Http = "http", Dns = "dns", Tls = "tls",
        Payloads = "payloads", Packets = "packets", CaptureStats = "capture_stats", ConnectionTimeline = "connection_timeline";

    /// <summary>Bumped when a column is added, renamed or changes meaning.</summary>
    public const int Version = 1;

    /// <summary>
    /// The packets table's version: 2 added the body_* columns (frame bytes kept once, in payloads);
    /// 3 added owner_namespace (per-namespace retention reaches raw frames too); 4 added frame_header (a frame's
    /// link/IP/TCP/UDP headers stored apart from the rest of its bytes, as a template that repeats within a flow).
    /// </summary>
    public const int PacketsVersion = 4;

    /// <summary>
    /// The payloads table's version: 2 added body_decoded_from (decoded bodies derived on read); 3 body_decoded_len (how
    /// much a read decodes, whatever decoded-body cap applied at ingest).
    /// </summary>
    public const int PayloadsVersion = 3;

    private static readonly string[] IdentityParts = ["pod", "namespace", "workload", "node", "service"];

    // ------------------------------------------------------------------ definitions

    public static readonly TableDefinition<Stored<ConnectionRecord>> ConnectionsDefinition = new(Connections, Version,
    [
        Column<Stored<ConnectionRecord>>.Int64("capture_id", s => s.CaptureId, "ingest run the row came from (capture_stats.capture_id)"),
        .. ConnectionsTable.Definition.Columns.Select(c => c.Name == "connection_id"
            ? Column<Stored<ConnectionRecord>>.Int64("connection_id", s => s.Global(s.Row.ConnectionId), "store-wide connection id: capture_id * 2^40 + the per-capture id (TCP: tcp.stream; UDP: 2^32 + udp.stream)")
            : Lift<ConnectionRecord>(c)),
        Column<Stored<ConnectionRecord>>.String("owner_namespace", s => s.Namespace, "namespace the row is accounted to for retention: server_namespace, else client_namespace"),
    ]);

    public static readonly TableDefinition<Stored<HttpExchange>> HttpDefinition = L7(HttpTable.Definition, x => x.ConnectionId,
        overrides: ("exchange_id", Column<Stored<HttpExchange>>.Int64("exchange_id", s => s.Global(s.Row.ExchangeId), "store-wide exchange id (capture_id * 2^40 + per-capture exchange number); payloads rows carry it")),
        ts: Column<Stored<HttpExchange>>.Timestamp("ts", s => HttpStart(s.Row), "start of the exchange: req_ts, else the request's first byte, else the response's first byte or resp_ts"),
        end: Column<Stored<HttpExchange>>.Timestamp("end_ts", s => HttpEnd(s.Row), "end of the exchange: the response's last byte, else resp_ts; empty while in flight"));

    public static readonly TableDefinition<Stored<DnsTransaction>> DnsDefinition = L7(DnsTable.Definition, x => x.ConnectionId, overrides: default,
        ts: Column<Stored<DnsTransaction>>.Timestamp("ts", s => s.Row.QueryTimestampNs ?? s.Row.ResponseTimestampNs ?? 0, "query_ts, else response_ts"),
        end: Column<Stored<DnsTransaction>>.Timestamp("end_ts", s => s.Row.ResponseTimestampNs, "response_ts; empty when unanswered"));

    public static readonly TableDefinition<Stored<TlsHandshake>> TlsDefinition = L7(TlsTable.Definition, x => x.ConnectionId, overrides: default,
        ts: Column<Stored<TlsHandshake>>.Timestamp("ts", s => s.Row.ClientHelloTimestampNs ?? s.Row.FirstServerHelloTimestampNs ?? s.Row.FirstApplicationDataTimestampNs ?? 0,
            "ch_ts, else sh_ts, else first_app_data_ts"),
        end: null);

    public static readonly TableDefinition<Stored<PayloadRow>> PayloadsDefinition = new(Payloads, PayloadsVersion,
    [
        Column<Stored<PayloadRow>>.Timestamp("ts", s => s.Row.TimestampNs, "time of the message's first byte (else of the frame that completed it)"),
        Column<Stored<PayloadRow>>.Int64("capture_id", s => s.CaptureId, "ingest run"),
        Column<Stored<PayloadRow>>.Int64("exchange_id", s => s.Global(s.Row.ExchangeId), "http.exchange_id of the exchange"),
        Column<Stored<PayloadRow>>.Int64("connection_id", s => s.Global(s.Row.ConnectionId), "store-wide connection id"),
        Column<Stored<PayloadRow>>.String("direction", s => s.Row.Direction, "c2s (request) or s2c (response)"),
        Column<Stored<PayloadRow>>.String("kind", s => s.Row.Kind, "request or response"),
        Column<Stored<PayloadRow>>.String("headers", s => s.Row.Headers, "start line, then header fields and trailers as 'name: value' lines (HTTP/2: pseudo-headers as decoded)"),
        Column<Stored<PayloadRow>>.Binary("body", s => s.Row.Body is { } b ? new ReadOnlyMemory<byte>(b) : (ReadOnlyMemory<byte>?)null, "body as transferred after de-chunking / HTTP/2 framing, before content decoding; empty when none"),
        Column<Stored<PayloadRow>>.Binary("body_decoded", s => s.Row.BodyDecodedFrom is null && s.Row.BodyDecoded is { } b ? new ReadOnlyMemory<byte>(b) : (ReadOnlyMemory<byte>?)null, "body after content decoding (gzip, deflate, br ...); empty when not content-encoded or not decodable"),
        Column<Stored<PayloadRow>>.Boolean("truncated", s => s.Row.Truncated, "a body cap (PayloadOptions) was hit: the body is incomplete"),
        .. IdentityColumns<PayloadRow>(),
        Column<Stored<PayloadRow>>.String("owner_namespace", s => s.Namespace, "retention namespace: server_namespace, else client_namespace"),
        Column<Stored<PayloadRow>>.String("body_decoded_from", s => s.Row.BodyDecodedFrom,
            "set when `body_decoded` is not stored because decoding `body` with these codings (comma-separated, in the order applied) gives it back exactly; queries return `body_decoded` decoded again"),
        Column<Stored<PayloadRow>>.Int64("body_decoded_len", s => s.Row.BodyDecodedLength,
            "with `body_decoded_from`: the length of `body_decoded`, which reads decode exactly (rows of older stores have none: decoded up to 256 MiB)"),
    ]);

    /// <summary>Packets are built by <see cref="PacketBatchBuilder"/> (no allocation per frame); this definition is its schema and documentation.</summary>
    public static readonly TableDefinition<PacketRecord> PacketsDefinition = new(Packets, PacketsVersion,
    [
        Column<PacketRecord>.Timestamp("ts", p => p.TimestampNs, "frame timestamp as captured (ns)"),
        Column<PacketRecord>.Int64("capture_id", p => p.CaptureId, "ingest run"),
        Column<PacketRecord>.Int64("frame", p => p.Frame, "frame number within the capture (1-based, as tshark's frame.number)"),
        Column<PacketRecord>.Int64("connection_id", p => p.ConnectionId, "store-wide connection id of the TCP connection / UDP flow; empty for other frames"),
        Column<PacketRecord>.Int64("interface_id", p => p.InterfaceId, "capture interface (pcapng IDB index; 0 for pcap)"),
        Column<PacketRecord>.Int64("link_type", p => p.LinkType, "pcap LINKTYPE_ value of the frame's interface"),
        Column<PacketRecord>.Int64("orig_len", p => p.OriginalLength, "original length on the wire (frame.len)"),
        Column<PacketRecord>.String("owner_namespace", p => p.OwnerNamespace,
            "retention namespace of the frame's connection, as on its other rows (server_namespace, else client_namespace); empty without Kubernetes identity"),
        Column<PacketRecord>.Binary("data", p => p.Data, "captured bytes (frame.cap_len of them), exactly as in the capture (stored: the bytes after frame_header)"),
        Column<PacketRecord>.Int64("body_exchange_id", p => p.BodyExchangeId,
            "set when part of this frame's TCP payload equals bytes of an HTTP body in payloads: the stored frame omits them and reads take them from that payloads row (exchange_id, body_direction); queries and export return `data` whole; empty when the frame is stored whole"),
        Column<PacketRecord>.String("body_direction", p => p.BodyDirection, "direction (c2s, s2c) of the payloads row holding the omitted bytes"),
        Column<PacketRecord>.Int64("body_offset", p => p.BodyOffset, "offset in that row's `body` of the first omitted byte"),
        Column<PacketRecord>.Int64("body_at", p => p.BodyAt, "offset in the stored `data` (after `frame_header` when that is set) where the omitted bytes belong"),
        Column<PacketRecord>.Int64("body_len", p => p.BodyLength, "number of omitted bytes"),
        Column<PacketRecord>.Binary("frame_header", p => p.FrameHeader,
            "storage only (v4), always empty in query results: the frame's link, IP and TCP/UDP headers, stored apart from `data` as a template (lengths and checksums XORed with the values the rest of the frame predicts); reads put them back in front of `data`. Empty when the frame is stored whole in `data` (headers not understood, and every row written before v4)"),
    ]);

    public static readonly TableDefinition<CaptureStatsRow> CaptureStatsDefinition = new(CaptureStats, Version,
    [
        Column<CaptureStatsRow>.Timestamp("ts", r => r.StartedNs, "wall-clock time the ingest run started"),
        Column<CaptureStatsRow>.Timestamp("finished_ts", r => r.FinishedNs, "wall-clock time it ended; empty on the 'started' row"),
        Column<CaptureStatsRow>.Int64("capture_id", r => r.CaptureId, "id of the run (the high bits of its connection and exchange ids)"),
        Column<CaptureStatsRow>.String("source", r => r.Source, "capture file path (or agent/interface name)"),
        Column<CaptureStatsRow>.String("state", r => r.State, "started (reserves the id), complete, error (read stopped; rows before it kept) or cancelled"),
        Column<CaptureStatsRow>.Int64("frames", r => r.Frames, "frames read"),
        Column<CaptureStatsRow>.Int64("packets", r => r.Packets, "TCP/UDP packets decoded and tracked"),
        Column<CaptureStatsRow>.Int64("bytes", r => r.Bytes, "sum of captured frame bytes"),
        Column<CaptureStatsRow>.Int64("tcp_connections", r => r.TcpConnections, "TCP connections seen"),
        Column<CaptureStatsRow>.Int64("udp_flows", r => r.UdpFlows, "UDP flows seen"),
        Column<CaptureStatsRow>.Int64("http_exchanges", r => r.HttpExchanges, "http rows stored"),
        Column<CaptureStatsRow>.Int64("dns_transactions", r => r.DnsTransactions, "dns rows stored"),
        Column<CaptureStatsRow>.Int64("tls_handshakes", r => r.TlsHandshakes, "tls rows stored"),
        Column<CaptureStatsRow>.Timestamp("first_frame_ts", r => r.FirstFrameNs, "timestamp of the first frame"),
        Column<CaptureStatsRow>.Timestamp("last_frame_ts", r => r.LastFrameNs, "timestamp of the last frame"),
        Column<CaptureStatsRow>.String("decoder_anomalies", r => r.DecoderAnomalies, "decoder anomaly:count pairs joined with |"),
        Column<CaptureStatsRow>.String("error", r => r.Error, "why the capture could not be read to its end; empty when it was"),
        Column<CaptureStatsRow>.Int64("error_offset", r => r.ErrorOffset, "byte offset in the file of that error"),
        Column<CaptureStatsRow>.String("k8s_snapshot", r => r.K8sSnapshot, "Kubernetes snapshot file used for enrichment; empty when none"),
        Column<CaptureStatsRow>.String("node", r => r.Node, "live capture: the capturing node; empty for files"),
        Column<CaptureStatsRow>.Int64("capture_received", r => r.CaptureReceived, "live capture: packets received by the capture filter so far (pcap_stats ps_recv)"),
        Column<CaptureStatsRow>.Int64("capture_dropped_kernel", r => r.CaptureDroppedKernel, "live capture: packets dropped because the kernel buffer was full (ps_drop)"),
        Column<CaptureStatsRow>.Int64("capture_dropped_interface", r => r.CaptureDroppedInterface, "live capture: packets dropped by the interface or driver (ps_ifdrop)"),
        Column<CaptureStatsRow>.Int64("agent_dropped_rows", r => r.AgentDroppedRows, "live capture: rows the agent discarded so far because its spool was full (oldest first)"),
        Column<CaptureStatsRow>.Int64("agent_dropped_batches", r => r.AgentDroppedBatches, "live capture: batches the agent discarded so far"),
    ]);

    public static readonly TableDefinition<Stored<TimelineRow>> TimelineDefinition = new(ConnectionTimeline, Version,
    [
        Column<Stored<TimelineRow>>.Timestamp("ts", s => s.Row.StartNs, "start of the active second (UTC, whole second)"),
        Column<Stored<TimelineRow>>.Timestamp("end_ts", s => s.Row.EndNs, "last instant the counters hold: just before the connection's next active second, or the end of this second"),
        Column<Stored<TimelineRow>>.Int64("capture_id", s => s.CaptureId, "ingest run"),
        Column<Stored<TimelineRow>>.Int64("connection_id", s => s.Global(s.Row.ConnectionId), "store-wide connection id"),
        Column<Stored<TimelineRow>>.String("transport", s => s.Row.Transport, "tcp or udp"),
        Column<Stored<TimelineRow>>.Int64("pkts_c2s", s => s.Row.PacketsC2S, "packets client to server up to the end of the second"),
        Column<Stored<TimelineRow>>.Int64("pkts_s2c", s => s.Row.PacketsS2C, "packets server to client so far"),
        Column<Stored<TimelineRow>>.Int64("bytes_c2s", s => s.Row.BytesC2S, "frame bytes (frame.len) client to server so far"),
        Column<Stored<TimelineRow>>.Int64("bytes_s2c", s => s.Row.BytesS2C, "frame bytes server to client so far"),
        Column<Stored<TimelineRow>>.Int64("payload_c2s", s => s.Row.PayloadC2S, "TCP/UDP payload bytes client to server so far"),
        Column<Stored<TimelineRow>>.Int64("payload_s2c", s => s.Row.PayloadS2C, "payload bytes server to client so far"),
        Column<Stored<TimelineRow>>.Int64("syn", s => s.Row.Syn, "SYN segments so far (either direction)"),
        Column<Stored<TimelineRow>>.Int64("fin", s => s.Row.Fin, "FIN segments so far"),
        Column<Stored<TimelineRow>>.Int64("rst", s => s.Row.Rst, "RST segments so far"),
        Column<Stored<TimelineRow>>.Int64("retransmission", s => s.Row.Retransmissions,
            "data segments so far whose bytes were all sent before (seq + len <= highest end seen in that direction); a simpler rule than tcp.analysis.retransmission, which the connections row carries"),
        .. IdentityColumns<TimelineRow>(),
        Column<Stored<TimelineRow>>.String("owner_namespace", s => s.Namespace, "retention namespace: server_namespace, else client_namespace"),
    ]);

    // ------------------------------------------------------------------ specs

    private static readonly string[] IdentityIndex = [.. IdentityParts.SelectMany(p => new[] { "client_" + p, "server_" + p })];

    /// <summary>Every table of the store, in documentation order.</summary>
    public static IReadOnlyList<StoreTable> All { get; } =
    [
        Table(ConnectionsDefinition, "One row per TCP connection or UDP flow (tshark's tcp.stream / udp.stream) with its TCP health figures and the Kubernetes identity of both ends.",
            "first_ts", "last_ts", ["connection_id", "client_ip", "server_ip", "protocol", "health", .. IdentityIndex, "owner_namespace"]),
        Table(HttpDefinition, "One row per HTTP/1.x request/response or HTTP/2 stream (gRPC calls included).",
            "ts", "end_ts", ["connection_id", "exchange_id", "client_ip", "server_ip", "method", "status", "host", .. IdentityIndex, "owner_namespace"]),
        Table(DnsDefinition, "One row per DNS query/response transaction (UDP and TCP).",
            "ts", "end_ts", ["connection_id", "client_ip", "server_ip", "qname", "rcode_name", .. IdentityIndex, "owner_namespace"]),
        Table(TlsDefinition, "One row per TLS connection: its handshake (ClientHello/ServerHello, certificates, fingerprints).",
            "ts", null, ["connection_id", "client_ip", "server_ip", "sni", .. IdentityIndex, "owner_namespace"]),
        Table(PayloadsDefinition, "One row per HTTP message (request or response) with its headers and full body (no cap by default).",
            "ts", null, ["exchange_id", "connection_id", .. IdentityIndex, "owner_namespace"]),
        Table(PacketsDefinition, "Every captured frame, bytes as captured, for exact pcap reproduction. Frame bytes that equal an HTTP body's bytes are stored once, in payloads (body_* columns); since v4 a frame's link/IP/TCP/UDP headers are stored apart from the rest of its bytes (frame_header), so that zstd sees one flow's headers repeat. Queries and export return `data` whole either way.",
            "ts", null, ["connection_id", "capture_id"]),
        Table(CaptureStatsDefinition, "One row per ingest run (a 'started' row, then its final row).",
            "ts", null, ["capture_id"], namespaceColumn: null),
        Table(TimelineDefinition, "Per connection and active second: cumulative counters at the end of that second, valid until its next active second (as-of queries on long-lived connections).",
            "ts", "end_ts", ["connection_id", .. IdentityIndex, "owner_namespace"]),
    ];

    public static StoreTable Get(string name) => TryGet(name, out var t) ? t : throw new KeyNotFoundException($"unknown table '{name}'");

    public static bool TryGet(string name, out StoreTable table)
    {
        table = All.FirstOrDefault(t => t.Name == name)!;
        return table is not null;
    }

    public static IEnumerable<string> Names => All.Select(t => t.Name);

    // ------------------------------------------------------------------ helpers

    private static StoreTable Table<T>(TableDefinition<T> def, string description, string time, string? end, string[] indexed, string? namespaceColumn = "owner_namespace")
    {
        var schema = ArrowSchemas.ToSchema(def);
        var spec = new TableSpec(def.Name, schema, time)
        {
            EndTimeColumn = end,
            IndexedColumns = indexed,
            NamespaceColumn = namespaceColumn,
        };
        return new StoreTable(def.Name, description, def.Columns.Select(c => new StoreColumn(c.Name, c.Kind, c.Description)).ToList(), spec);
    }

    /// <summary>An L7 table: its time columns, capture_id, the pipeline's columns, store-wide connection_id, both ends' identities and the retention namespace.</summary>
    private static TableDefinition<Stored<T>> L7<T>(TableDefinition<T> source, Func<T, long> connectionId,
        (string Name, Column<Stored<T>> Column) overrides, Column<Stored<T>> ts, Column<Stored<T>>? end)
    {
        var columns = new List<Column<Stored<T>>> { ts };
        if (end is not null) columns.Add(end);
        columns.Add(Column<Stored<T>>.Int64("capture_id", s => s.CaptureId, "ingest run the row came from"));
        columns.Add(Column<Stored<T>>.Int64("connection_id", s => s.Global(connectionId(s.Row)), "store-wide id of the connection (connections.connection_id)"));
        foreach (var c in source.Columns)
            columns.Add(overrides.Name == c.Name ? overrides.Column : Lift<T>(c));
        columns.AddRange(IdentityColumns<T>());
        columns.Add(Column<Stored<T>>.String("owner_namespace", s => s.Namespace, "retention namespace: server_namespace, else client_namespace"));
        return new TableDefinition<Stored<T>>(source.Name, Version, columns);
    }

    private static IEnumerable<Column<Stored<T>>> IdentityColumns<T>()
    {
        foreach (var (side, get) in new (string, Func<Stored<T>, EndpointIdentity>)[] { ("client", s => s.Client), ("server", s => s.Server) })
        {
            yield return Column<Stored<T>>.String(side + "_pod", s => get(s).Pod, $"Kubernetes pod of the {side} (from its connection)");
            yield return Column<Stored<T>>.String(side + "_namespace", s => get(s).Namespace, $"namespace of the {side} pod");
            yield return Column<Stored<T>>.String(side + "_workload", s => get(s).Workload, $"workload of the {side} pod");
            yield return Column<Stored<T>>.String(side + "_node", s => get(s).Node, $"node of the {side} pod");
            yield return Column<Stored<T>>.String(side + "_zone", s => get(s).Zone, $"zone of the {side}'s node");
            yield return Column<Stored<T>>.String(side + "_service", s => get(s).Service, $"service of the {side}");
        }
    }

    /// <summary>A pipeline column read through <see cref="Stored{T}.Row"/>.</summary>
    private static Column<Stored<T>> Lift<T>(Column<T> c) => c.Kind switch
    {
        ColumnKind.Int64 => Column<Stored<T>>.Int64(c.Name, s => c.GetInt64(s.Row), c.Description),
        ColumnKind.TimestampNs => Column<Stored<T>>.Timestamp(c.Name, s => c.GetInt64(s.Row), c.Description),
        ColumnKind.DurationNs => Column<Stored<T>>.Duration(c.Name, s => c.GetInt64(s.Row), c.Description),
        ColumnKind.Double => Column<Stored<T>>.Double(c.Name, s => c.GetDouble(s.Row), c.Description),
        ColumnKind.String => Column<Stored<T>>.String(c.Name, s => c.GetString(s.Row), c.Description),
        ColumnKind.Boolean => Column<Stored<T>>.Boolean(c.Name, s => c.GetBoolean(s.Row), c.Description),
        ColumnKind.Binary => Column<Stored<T>>.Binary(c.Name, s => c.GetBinary(s.Row), c.Description),
        _ => throw new NotSupportedException($"column kind {c.Kind}"),
    };

    private static long HttpStart(HttpExchange x) =>
        x.RequestTimestampNs ?? x.RequestFirstByteNs ?? x.ResponseFirstByteNs ?? x.ResponseTimestampNs ?? 0;

    private static long? HttpEnd(HttpExchange x) => x.ResponseLastByteNs ?? x.ResponseTimestampNs;
}

/// <summary>A packets row (documentation and schema; ingest builds the Arrow columns directly).</summary>
public sealed class PacketRecord
{
    public long TimestampNs { get; init; }
    public long CaptureId { get; init; }
    public long Frame { get; init; }
    public long? ConnectionId { get; init; }
    public long InterfaceId { get; init; }
    public long LinkType { get; init; }
    public long OriginalLength { get; init; }
    public string OwnerNamespace { get; init; } = "";
    public ReadOnlyMemory<byte> Data { get; init; }
    public long? BodyExchangeId { get; init; }
    public string? BodyDirection { get; init; }
    public long? BodyOffset { get; init; }
    public long? BodyAt { get; init; }
    public long? BodyLength { get; init; }
    public ReadOnlyMemory<byte>? FrameHeader { get; init; }
}
