using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client;

/// <summary>The offline <see cref="ITrafficClient"/>: queries and exports straight from a <see cref="TrafficDatabase"/>.</summary>
public sealed class LocalTrafficClient : ITrafficClient
{
    private readonly TrafficDatabase _db;
    private readonly bool _ownsDatabase;

    public LocalTrafficClient(TrafficDatabase db, bool ownsDatabase = false)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _ownsDatabase = ownsDatabase;
    }

    public TrafficDatabase Database => _db;

    public Task<TrafficQueryResult> QueryAsync(string query, CancellationToken ct = default) =>
        QueryAsync(QueryParser.Parse(query), ct);

    public Task<TrafficQueryResult> QueryAsync(TrafficQuery query, CancellationToken ct = default)
    {
        var spec = QueryTranslator.Translate(query);
        var schema = _db.Engine.QuerySchema(spec);
        var warnings = new List<string>();
        if (spec.Table == TrafficTables.Connections && spec.AsOf is not null)
        {
            var widened = ConnectionsAsOf.Widen(spec);
            return Task.FromResult(new TrafficQueryResult(schema, ConnectionsAsOf.Overlay(_db.Engine, spec, Run(widened, warnings, ct), schema, ct), warnings));
        }
        return Task.FromResult(new TrafficQueryResult(schema, Run(spec, warnings, ct), warnings));
    }

    private async IAsyncEnumerable<RecordBatch> Run(QuerySpec spec, List<string> warnings, [EnumeratorCancellation] CancellationToken ct)
    {
        var diag = new QueryDiagnostics();
        if (spec.Table == TrafficTables.Packets)
        {
            await foreach (var batch in PacketsWhole(spec, diag, warnings, ct).ConfigureAwait(false))
                yield return batch;
        }
        else if (spec.Table == TrafficTables.Payloads && (spec.Columns is null || spec.Columns.Contains("body_decoded")))
        {
            // body_decoded may be derived from body (DecodedBodyReader): read its sources too, return what was asked.
            var requested = spec.Columns;
            var read = requested is null ? spec : spec with { Columns = [.. requested, .. DecodedBodyReader.SourceColumns.Where(c => !requested.Contains(c))] };
            await foreach (var batch in _db.Engine.QueryAsync(read, diag, ct).ConfigureAwait(false))
            {
                var filled = DecodedBodyReader.Fill(batch);
                yield return requested is null ? filled : Project(filled, requested);
            }
        }
        else
        {
            await foreach (var batch in _db.Engine.QueryAsync(spec, diag, ct).ConfigureAwait(false))
                yield return batch;
        }
        warnings.AddRange(diag.Warnings.Select(w => w.Message));
    }

    /// <summary>Packets rows with <c>data</c> whole: bytes stored once in payloads are spliced back (<see cref="FrameBodySplicer"/>).</summary>
    private async IAsyncEnumerable<RecordBatch> PacketsWhole(QuerySpec spec, QueryDiagnostics diag, List<string> warnings, [EnumeratorCancellation] CancellationToken ct)
    {
        var requested = spec.Columns;
        // frame_header is returned empty (its bytes are in data): asking for it alone still goes through the splicer.
        bool needsSplice = requested is null || requested.Contains("data") || requested.Contains("frame_header");
        var read = needsSplice && requested is not null
            ? spec with { Columns = [.. requested, .. FrameBodySplicer.ReferenceColumns.Append("data").Where(c => !requested.Contains(c))] }
            : spec;
        var splicer = new FrameBodySplicer(_db.Engine);
        await foreach (var batch in _db.Engine.QueryAsync(read, diag, ct).ConfigureAwait(false))
        {
            if (!needsSplice) { yield return batch; continue; }
            var whole = await splicer.SpliceAsync(batch, ct).ConfigureAwait(false);
            yield return ReferenceEquals(read, spec) ? whole : Project(whole, requested!);
        }
        if (splicer.Warning is { } w) warnings.Add(w);
    }

    private static RecordBatch Project(RecordBatch batch, IReadOnlyList<string> columns)
    {
        var fields = columns.Select(c => batch.Schema.GetFieldByName(c)).ToList();
        var schema = new Schema(fields, batch.Schema.Metadata);
        return new RecordBatch(schema, columns.Select(c => batch.Column(batch.Schema.GetFieldIndex(c))), batch.Length);
    }

    public async Task<PcapExportSummary> ExportPcapAsync(PcapExportRequest request, Stream output, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        var warnings = new List<string>();
        var filters = new List<ColumnFilter>();
        if (request.ConnectionId is long id)
        {
            filters.Add(ColumnFilter.Eq("connection_id", id));
        }
        else if (request.Pod is { } pod)
        {
            var ids = await ConnectionsOfPodAsync(pod, request.Namespace, request.FromNs, request.ToNs, ct).ConfigureAwait(false);
            if (ids.Count == 0) warnings.Add($"no connection of pod '{pod}' in the store{(request.FromNs is null && request.ToNs is null ? "" : " in that window")}");
            filters.Add(ColumnFilter.In("connection_id", [.. ids.Cast<object>()]));
        }
        else if (request.FromNs is null && request.ToNs is null)
        {
            throw new QueryException("export pcap needs a connection, a pod or a time window");
        }

        var frames = new List<(long Capture, long Frame, long Ts, long Link, long OrigLen, byte[] Data)>();
        if (request.Pod is null || filters[0].Values is { Count: > 0 })
        {
            var spec = new QuerySpec(TrafficTables.Packets) { From = request.FromNs, To = request.ToNs, Filters = filters, OrderByTime = true };
            var diag = new QueryDiagnostics();
            var splicer = new FrameBodySplicer(_db.Engine);
            await foreach (var stored in _db.Engine.QueryAsync(spec, diag, ct).ConfigureAwait(false))
            {
                var b = await splicer.SpliceAsync(stored, ct).ConfigureAwait(false);
                var ts = (TimestampArray)b.Column("ts");
                var cap = (Int64Array)b.Column("capture_id");
                var frame = (Int64Array)b.Column("frame");
                var link = (Int64Array)b.Column("link_type");
                var orig = (Int64Array)b.Column("orig_len");
                var data = (BinaryArray)b.Column("data");
                for (int i = 0; i < b.Length; i++)
                    frames.Add((cap.GetValue(i) ?? 0, frame.GetValue(i) ?? 0, ts.GetValue(i) ?? 0, link.GetValue(i) ?? 0, orig.GetValue(i) ?? 0, data.GetBytes(i).ToArray()));
            }
            warnings.AddRange(diag.Warnings.Select(w => w.Message));
            if (splicer.Warning is { } w) warnings.Add(w);
        }
        // Capture order: each ingest run in order, frames in file order (timestamps need not be monotonic).
        frames.Sort((a, b) => a.Capture != b.Capture ? a.Capture.CompareTo(b.Capture) : a.Frame.CompareTo(b.Frame));

        long linkType = frames.Count > 0 ? frames[0].Link : (long)LinkType.Ethernet;
        int skipped = frames.Count(f => f.Link != linkType);
        if (skipped > 0) warnings.Add($"{skipped} frames of another link type than {linkType} were left out (a pcap file has one link type)");
        long written = 0, bytes = 0;
        using (var writer = new PcapWriter(output, (LinkType)linkType, snaplen: 262144, nanosecond: true, leaveOpen: true))
        {
            foreach (var f in frames)
            {
                if (f.Link != linkType) continue;
                writer.WriteFrame(f.Ts, f.Data, (int)f.OrigLen);
                written++;
                bytes += f.Data.Length;
            }
            writer.Flush();
        }
        await output.FlushAsync(ct).ConfigureAwait(false);
        return new PcapExportSummary(written, bytes, (int)linkType, warnings);
    }

    private async Task<List<long>> ConnectionsOfPodAsync(string pod, string? ns, long? from, long? to, CancellationToken ct)
    {
        var filters = new List<ColumnFilter> { ColumnFilter.AnyOf(ColumnFilter.Eq("client_pod", pod), ColumnFilter.Eq("server_pod", pod)) };
        if (ns is not null) filters.Add(ColumnFilter.AnyOf(ColumnFilter.Eq("client_namespace", ns), ColumnFilter.Eq("server_namespace", ns)));
        // A connection overlaps the window when it starts before its end and ends at or after its start.
        if (to is long t) filters.Add(ColumnFilter.Lt("first_ts", t));
        if (from is long f) filters.Add(ColumnFilter.Ge("last_ts", f));
        var spec = new QuerySpec(TrafficTables.Connections) { Filters = filters, Columns = ["connection_id"] };
        var ids = new List<long>();
        await foreach (var b in _db.Engine.QueryAsync(spec, ct).ConfigureAwait(false))
        {
            var col = (Int64Array)b.Column(0);
            for (int i = 0; i < b.Length; i++) if (col.GetValue(i) is long v) ids.Add(v);
        }
        return ids;
    }

    public Task<RetentionPolicy> GetRetentionPolicyAsync(CancellationToken ct = default) => Task.FromResult(_db.Engine.RetentionPolicy);

    public Task SetRetentionPolicyAsync(RetentionPolicy policy, CancellationToken ct = default) => _db.Engine.SetRetentionPolicyAsync(policy, ct);

    public Task<RetentionReport> ApplyRetentionAsync(CancellationToken ct = default) => _db.Engine.ApplyRetentionAsync(ct);

    public Task<StoreStatus> GetStatsAsync(CancellationToken ct = default) =>
        Task.FromResult(new StoreStatus(_db.Engine.GetStats(), _db.Engine.Health));

    public async Task<IReadOnlyList<PayloadMessage>> GetPayloadAsync(long exchangeId, CancellationToken ct = default)
    {
        var spec = new QuerySpec(TrafficTables.Payloads) { Filters = [ColumnFilter.Eq("exchange_id", exchangeId)], OrderByTime = true };
        var messages = new List<PayloadMessage>();
        await foreach (var stored in _db.Engine.QueryAsync(spec, ct).ConfigureAwait(false))
        {
            var b = DecodedBodyReader.Fill(stored); // body_decoded may be derived from body
            var ts = (TimestampArray)b.Column("ts");
            var conn = (Int64Array)b.Column("connection_id");
            var dir = (StringArray)b.Column("direction");
            var kind = (StringArray)b.Column("kind");
            var headers = (StringArray)b.Column("headers");
            var body = (BinaryArray)b.Column("body");
            var truncated = (BooleanArray)b.Column("truncated");
            var decoded = (BinaryArray)b.Column("body_decoded");
            for (int i = 0; i < b.Length; i++)
            {
                messages.Add(new PayloadMessage(exchangeId, conn.GetValue(i) ?? 0, dir.GetString(i) ?? "", kind.GetString(i) ?? "", ts.GetValue(i) ?? 0,
                    headers.GetString(i) ?? "", body.IsNull(i) ? ReadOnlyMemory<byte>.Empty : body.GetBytes(i).ToArray(),
                    decoded.IsNull(i) ? (ReadOnlyMemory<byte>?)null : decoded.GetBytes(i).ToArray(), truncated.GetValue(i) ?? false));
            }
        }
        return messages.OrderBy(m => m.Kind == "request" ? 0 : 1).ThenBy(m => m.TimestampNs).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownsDatabase) await _db.DisposeAsync().ConfigureAwait(false);
    }
}
