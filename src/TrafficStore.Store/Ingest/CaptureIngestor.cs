using System.Text;
using System.Threading.Channels;
using Apache.Arrow;
using TrafficStore.Engine;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Kubernetes.Enrichment;
using TrafficStore.Kubernetes.Identity;
using TrafficStore.Store.Tables;
using IngestIdentity = TrafficStore.Ingest.Flows.EndpointIdentity;

namespace TrafficStore.Store.Ingest;

/// <summary>Options of a <see cref="CaptureIngestor"/>.</summary>
public sealed record CaptureIngestOptions
{
    /// <summary>Kubernetes identities for both ends of every row; null leaves the identity columns empty.</summary>
    public IdentityMap? Identities { get; init; }
    /// <summary>Path of the snapshot <see cref="Identities"/> came from (recorded in capture_stats).</summary>
    public string? IdentitySource { get; init; }
    /// <summary>Rows per appended batch (each table).</summary>
    public int BatchRows { get; init; } = 16_384;
    /// <summary>A batch is appended early once its variable-length data (frame bytes, bodies) reaches this.</summary>
    public long BatchBytes { get; init; } = 8L << 20;
    /// <summary>Batches waiting for the engine before the pipeline waits (bounds memory).</summary>
    public int QueuedBatches { get; init; } = 2;
    public ProtocolSetOptions? Protocols { get; init; }
    public IngestOptions? Pipeline { get; init; }
    public CaptureFileOptions? CaptureFile { get; init; }
    /// <summary>
    /// Load the rows as a bulk load (<see cref="TrafficStore.Engine.BulkLoad"/>: no WAL, sealed straight into
    /// segments on a second task) — the default, for captures read to their end. False appends every batch
    /// through the WAL (each batch durable and visible as soon as it is appended).
    /// </summary>
    public bool BulkLoad { get; init; } = true;
    /// <summary>
    /// With <see cref="BulkLoad"/>: called after each durable seal with the rows of each table acknowledged
    /// so far (they survive kill -9 and are visible to queries); the returned summary covers everything.
    /// </summary>
    public Action<IngestAcknowledged>? Acknowledged { get; init; }
    /// <summary>Called about every 64k frames with frames read and the file offset reached.</summary>
    public Action<IngestProgress>? Progress { get; init; }
}

public readonly record struct IngestProgress(string Source, long Frames, long Offset, long? Length);

/// <summary>Rows of <see cref="Table"/> durable so far in a bulk-loaded ingest (<see cref="CaptureIngestOptions.Acknowledged"/>).</summary>
public readonly record struct IngestAcknowledged(long CaptureId, string Table, long Rows);

/// <summary>What one ingest run stored.</summary>
public sealed record IngestSummary(
    long CaptureId,
    string Source,
    long Frames,
    long Packets,
    long Bytes,
    long TcpConnections,
    long UdpFlows,
    IReadOnlyDictionary<string, long> RowsByTable,
    CaptureError? Error,
    bool Cancelled,
    TimeSpan Elapsed)
{
    public bool Complete => Error is null && !Cancelled;
}

/// <summary>
/// Runs the ingest pipeline with every protocol (<see cref="ProtocolSet"/>) over a capture and
/// appends its rows to a <see cref="TrafficDatabase"/>: connections, http, dns, tls, payloads,
/// packets, connection_timeline and a capture_stats row. Rows are appended in bounded batches while
/// the capture is read, so memory does not grow with the capture (except the pipeline's own
/// per-connection state). By default the rows go through an engine bulk load (no WAL; see
/// <see cref="CaptureIngestOptions.BulkLoad"/> and docs/engine.md "Bulk load"): the returned summary
/// means every row it counts is durable. A capture that cannot be read to its end keeps everything
/// before the error; the summary and capture_stats say where it stopped.
/// </summary>
public sealed class CaptureIngestor
{
    private readonly TrafficDatabase _db;
    private readonly CaptureIngestOptions _options;

    public CaptureIngestor(TrafficDatabase db, CaptureIngestOptions? options = null)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _options = options ?? new CaptureIngestOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.BatchRows, 1);
    }

    /// <summary>
    /// Ingests a pcap or pcapng file. A file that is no capture at all (empty, or another kind of file) is refused with
    /// <see cref="NotACaptureFileException"/> before anything is stored: no capture id, no capture_stats row. A capture cut
    /// short or damaged later keeps everything before the damage, and the summary says where it stopped.
    /// </summary>
    public async Task<IngestSummary> IngestFileAsync(string path, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException("Capture file not found.", path);
        CaptureFileCheck.ThrowIfNotCapture(path);
        long length = new FileInfo(path).Length;
        using var source = CaptureFile.Open(path, _options.CaptureFile);
        return await IngestAsync(source, path, length, ct).ConfigureAwait(false);
    }

    public async Task<IngestSummary> IngestAsync(ICaptureSource source, string sourceName, long? length = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var started = System.Diagnostics.Stopwatch.StartNew();
        long startedNs = TrafficDatabase.NowNs();
        long captureId = await _db.BeginCaptureAsync(sourceName, _options.IdentitySource, ct).ConfigureAwait(false);
        var queue = Channel.CreateBounded<(string Table, RecordBatch Batch)>(new BoundedChannelOptions(Math.Max(1, _options.QueuedBatches))
        {
            SingleReader = true,
            SingleWriter = true,
        });
        // The appender converts and hands batches to the engine on another thread than the pipeline;
        // with a bulk load, sealing (compression, writes, fsync) runs on a third task.
        var acknowledged = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var bulk = _options.BulkLoad
            ? _db.Engine.BeginBulkLoad(new BulkLoadOptions
            {
                Sealed = s =>
                {
                    long rows;
                    lock (acknowledged) acknowledged[s.Table] = rows = acknowledged.GetValueOrDefault(s.Table) + s.Rows;
                    _options.Acknowledged?.Invoke(new IngestAcknowledged(captureId, s.Table, rows));
                },
            })
            : null;
        var appender = Task.Run(async () =>
        {
            await foreach (var (table, batch) in queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (bulk is not null) await bulk.AddAsync(table, batch, ct).ConfigureAwait(false);
                else await _db.Engine.AppendAsync(table, batch, ct).ConfigureAwait(false);
            }
            // Everything read is durable (and visible) before the summary says it is stored.
            if (bulk is not null) await bulk.CompleteAsync(ct).ConfigureAwait(false);
        }, ct);

        Run run;
        try
        {
            run = await Task.Run(() =>
            {
                var r = new Run(this, captureId, sourceName, length, queue.Writer, ct);
                r.Execute(source);
                return r;
            }, ct).ConfigureAwait(false);
            queue.Writer.TryComplete();
        }
        catch (Exception e)
        {
            queue.Writer.TryComplete(e);
            try { await appender.ConfigureAwait(false); } catch { /* the first failure is the one to report */ }
            throw;
        }
        await appender.ConfigureAwait(false);

        var result = run.Result!;
        var stats = new CaptureStatsRow
        {
            StartedNs = startedNs,
            FinishedNs = TrafficDatabase.NowNs(),
            CaptureId = captureId,
            Source = sourceName,
            State = result.Error is not null ? "error" : result.Cancelled ? "cancelled" : "complete",
            Frames = result.Frames,
            Packets = result.Packets,
            Bytes = run.Bytes,
            TcpConnections = result.TcpConnections,
            UdpFlows = result.UdpFlows,
            HttpExchanges = run.Rows[TrafficTables.Http],
            DnsTransactions = run.Rows[TrafficTables.Dns],
            TlsHandshakes = run.Rows[TrafficTables.Tls],
            FirstFrameNs = run.FirstFrameNs,
            LastFrameNs = run.LastFrameNs,
            DecoderAnomalies = string.Join("|", result.Decoder.AnomalyCounts().Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}:{kv.Value}")),
            Error = result.Error?.ToString(),
            ErrorOffset = result.Error?.ByteOffset,
            K8sSnapshot = _options.IdentitySource,
        };
        await _db.Engine.AppendAsync(TrafficTables.CaptureStats,
            new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build([stats]), CancellationToken.None).ConfigureAwait(false);
        run.Rows[TrafficTables.CaptureStats] = 1;
        return new IngestSummary(captureId, sourceName, result.Frames, result.Packets, run.Bytes, result.TcpConnections, result.UdpFlows,
            run.Rows, result.Error, result.Cancelled, started.Elapsed);
    }

    /// <summary>One ingest run: the pipeline loop on one thread, handing full batches to the appender.</summary>
    private sealed class Run : IFrameObserver
    {
        private const int ProgressInterval = 1 << 16;

        private readonly CaptureIngestor _owner;
        private readonly long _captureId;
        private readonly string _source;
        private readonly long? _length;
        private readonly ChannelWriter<(string, RecordBatch)> _out;
        private readonly CancellationToken _ct;
        private readonly ConnectionIdentityCache? _identityCache;
        private readonly ConnectionIdentities _identities;
        private readonly PacketBatchBuilder _packets = new();
        private readonly FrameBodyElision _elision = new();
        private readonly long _packetBatchBytes;
        private readonly ConnectionTimeline _timeline;
        private readonly RowBuffer<Stored<ConnectionRecord>> _connections;
        private readonly RowBuffer<Stored<HttpExchange>> _http;
        private readonly RowBuffer<Stored<DnsTransaction>> _dns;
        private readonly RowBuffer<Stored<TlsHandshake>> _tls;
        private readonly RowBuffer<Stored<PayloadRow>> _payloads;
        private readonly RowBuffer<Stored<TimelineRow>> _timelineRows;

        public Run(CaptureIngestor owner, long captureId, string source, long? length, ChannelWriter<(string, RecordBatch)> output, CancellationToken ct)
        {
            _owner = owner;
            _captureId = captureId;
            _source = source;
            _length = length;
            _out = output;
            _ct = ct;
            if (owner._options.Identities is { } map) _identityCache = new ConnectionIdentityCache(new ConnectionEnricher(map));
            // Packets go in batches just under one row group of the engine (a frame is at most 64 KiB), so a
            // bulk load stores each batch as one row group without copying it again (SegmentSealer.SealUncommitted).
            var engineOptions = owner._db.Engine.Options;
            _packetBatchBytes = owner._options.BulkLoad
                ? Math.Min(Math.Max(engineOptions.RowGroupMaxBytes - (70L << 10), 256L << 10), owner._options.BatchBytes)
                : owner._options.BatchBytes;
            _packets.ExpectedDataBytes = (int)Math.Min(_packetBatchBytes, 64L << 20);
            int rows = owner._options.BatchRows;
            long bytes = owner._options.BatchBytes;
            _connections = new(TrafficTables.ConnectionsDefinition, rows, bytes, Send);
            _http = new(TrafficTables.HttpDefinition, rows, bytes, Send);
            _dns = new(TrafficTables.DnsDefinition, rows, bytes, Send);
            _tls = new(TrafficTables.TlsDefinition, rows, bytes, Send);
            _payloads = new(TrafficTables.PayloadsDefinition, rows, bytes, Send);
            _timelineRows = new(TrafficTables.TimelineDefinition, rows, bytes, Send);
            _timeline = new ConnectionTimeline(AddTimeline);
            _identities = new ConnectionIdentities(_identityCache, _timeline);
            foreach (var t in TrafficTables.Names) Rows[t] = 0;
        }

        public IngestResult? Result { get; private set; }
        public Dictionary<string, long> Rows { get; } = new();
        public long Bytes { get; private set; }
        private long _frames;
        public long? FirstFrameNs { get; private set; }
        public long? LastFrameNs { get; private set; }

        public void Execute(ICaptureSource source)
        {
            var options = _owner._options;
            var protocols = new ProtocolSet(new Sink<HttpExchange>(AddHttp), new Sink<DnsTransaction>(AddDns), new Sink<TlsHandshake>(AddTls), options.Protocols);
            var pipelineOptions = (options.Pipeline ?? IngestOptions.Default) with { FrameObserver = this };
            var pipeline = new IngestPipeline(new Sink<ConnectionRecord>(AddConnection), protocols.StreamProtocols, protocols.DatagramProtocols, pipelineOptions);
            var result = pipeline.Run(source, _ct);
            _timeline.Complete();
            options.Progress?.Invoke(new IngestProgress(_source, result.Frames, _length ?? 0, _length));
            if (_packets.Count > 0) SendPackets();
            foreach (var (held, references) in _elision.Drain()) SendFrames(held, references);
            _connections.Flush();
            _http.Flush();
            _dns.Flush();
            _tls.Flush();
            _payloads.Flush();
            _timelineRows.Flush();
            Result = result;
        }

        /// <summary>Each frame as the pipeline processed it: the timeline, the packets row, progress.</summary>
        void IFrameObserver.OnFrame(in CaptureFrame frame, long connectionId, bool decoded, in DecodedPacket packet, ReadOnlySpan<byte> payload)
        {
            _frames++;
            Bytes += frame.Data.Length;
            FirstFrameNs ??= frame.TimestampNs;
            LastFrameNs = frame.TimestampNs;
            TcpPayloadPosition tcp = default;
            if (decoded)
            {
                if (connectionId >= 0) _timeline.Add(packet, connectionId);
                tcp = TcpPayloadPosition.Of(packet, frame.Data, payload);
            }
            _packets.Add(frame, _captureId, connectionId >= 0 ? StoreIds.Global(_captureId, connectionId) : null, tcp,
                connectionId >= 0 ? OwnerNamespace(connectionId) : "");
            if (_packets.Count >= _owner._options.BatchRows || _packets.RawBytes >= _packetBatchBytes) SendPackets();
            if ((_frames & (ProgressInterval - 1)) == 0)
                _owner._options.Progress?.Invoke(new IngestProgress(_source, _frames, frame.FileOffset, _length));
        }

        private void SendPackets()
        {
            // Held back a while so bodies completed meanwhile can replace frame bytes (FrameBodyElision).
            foreach (var (frames, references) in _elision.Offer(_packets.Build())) SendFrames(frames, references);
        }

        private void SendFrames(RecordBatch frames, bool references)
        {
            if (references) _payloads.Flush(); // the payloads rows a frame refers to are appended before it
            Send(TrafficTables.Packets, frames);
            Rows[TrafficTables.Packets] += frames.Length;
        }

        private void Send(string table, RecordBatch batch)
        {
            if (table != TrafficTables.Packets) Rows[table] += batch.Length;
            // The pipeline is synchronous: wait here while the appender is behind (bounded memory).
            var write = _out.WriteAsync((table, batch), _ct);
            if (!write.IsCompletedSuccessfully) write.AsTask().GetAwaiter().GetResult();
        }

        // ------------------------------------------------------------------ rows

        private void AddConnection(ConnectionRecord row)
        {
            _identityCache?.Enrich(row); // the identity its frames and exchanges got: resolved once, as of its first packet
            _connections.Add(new Stored<ConnectionRecord>(row, _captureId, row.Client, row.Server), 0);
        }

        private void AddHttp(HttpExchange x)
        {
            var stored = Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort);
            _http.Add(stored, 0);
            AddPayloads(x, stored);
        }

        private void AddDns(DnsTransaction x) => _dns.Add(Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort), 0);

        private void AddTls(TlsHandshake x) => _tls.Add(Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort), 0);

        private void AddPayloads(HttpExchange x, Stored<HttpExchange> stored)
        {
            long start = TrafficTables.HttpDefinition["ts"].GetInt64(stored) ?? 0;
            if (PayloadRows.Request(x, start) is { } request)
            {
                _payloads.Add(new Stored<PayloadRow>(request, _captureId, stored.Client, stored.Server), PayloadRows.Bytes(request));
                _elision.AddBody(StoreIds.Global(_captureId, request.ConnectionId), StoreIds.Global(_captureId, request.ExchangeId), request.Direction, request.Body, x.RequestFirstByteNs, x.RequestLastByteNs);
            }
            if (PayloadRows.Response(x, start) is { } response)
            {
                _payloads.Add(new Stored<PayloadRow>(response, _captureId, stored.Client, stored.Server), PayloadRows.Bytes(response));
                _elision.AddBody(StoreIds.Global(_captureId, response.ConnectionId), StoreIds.Global(_captureId, response.ExchangeId), response.Direction, response.Body, x.ResponseFirstByteNs, x.ResponseLastByteNs);
            }
        }

        // ------------------------------------------------------------------ identities

        private void AddTimeline(TimelineRow row, ConnectionEnds ends) => _timelineRows.Add(Wrap(row, _identities.Of(row.ConnectionId, ends)), 0);

        private string OwnerNamespace(long connectionId) => _identities.OwnerNamespace(connectionId);

        private Stored<T> Wrap<T>(T row, long connectionId, string clientIp, int clientPort, string serverIp, int serverPort) =>
            Wrap(row, _identities.Of(connectionId, clientIp, clientPort, serverIp, serverPort, firstNsFallback: 0));

        private Stored<T> Wrap<T>(T row, (IngestIdentity Client, IngestIdentity Server) ends) => new(row, _captureId, ends.Client, ends.Server);
    }

    private sealed class Sink<T>(Action<T> add) : IRowSink<T>
    {
        public void Add(T row) => add(row);
    }

    /// <summary>Rows of one table waiting to become a batch.</summary>
    private sealed class RowBuffer<T>(TableDefinition<T> table, int maxRows, long maxBytes, Action<string, RecordBatch> send)
    {
        private readonly ArrowBatchBuilder<T> _builder = new(table);
        private readonly List<T> _rows = new();
        private long _bytes;

        public void Add(T row, long bytes)
        {
            _rows.Add(row);
            _bytes += bytes;
            if (_rows.Count >= maxRows || _bytes >= maxBytes) Flush();
        }

        public void Flush()
        {
            if (_rows.Count == 0) return;
            send(table.Name, _builder.Build(_rows));
            _rows.Clear();
            _bytes = 0;
        }
    }
}
