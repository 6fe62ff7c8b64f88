using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Store.Client.Export;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client;

/// <summary>The offline <see cref="ITrafficClient"/>: queries and exports straight from a <see cref="TrafficDatabase"/>.</summary>
public sealed class LocalTrafficClient : ITrafficClient
{
    private readonly TrafficDatabase _db;
    private readonly bool _ownsDatabase;
    private readonly PcapExportOptions _exportOptions;

    public LocalTrafficClient(TrafficDatabase db, bool ownsDatabase = false, PcapExportOptions? exportOptions = null)
    {
        _db = db ?? throw new ArgumentNullException(nameof(db));
        _ownsDatabase = ownsDatabase;
        _exportOptions = exportOptions ?? new PcapExportOptions();
    }

    public TrafficDatabase Database => _db;

    public Task<TrafficQueryResult> QueryAsync(string query, CancellationToken ct = default) =>
        QueryAsync(QueryParser.Parse(query), ct);

    public Task<TrafficQueryResult> QueryAsync(TrafficQuery query, CancellationToken ct = default)
    {
        var spec = QueryTranslator.Translate(query);
        var order = QueryTranslator.ColumnOrderOf(query);
        var schema = _db.Engine.QuerySchema(spec);
        var warnings = new List<string>();
        var rows = spec.Table == TrafficTables.Connections && spec.AsOf is not null
            ? ConnectionsAsOf.Overlay(_db.Engine, spec, Run(ConnectionsAsOf.Widen(spec), warnings, ct), schema, ct)
            : Run(spec, warnings, ct);
        if (order is null) return Task.FromResult(new TrafficQueryResult(schema, rows, warnings));

        var ordered = TopRowsByColumn.ApplyAsync(rows, order.Column, order.Descending, order.Limit, ct);
        if (query.Select is { } select && !select.Contains(order.Column))
        {
            // The order column was read only to order by; the result has the projection asked for.
            schema = Project(schema, select);
            ordered = ordered.Select(b => Project(b, select));
        }
        return Task.FromResult(new TrafficQueryResult(schema, ordered, warnings));
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
        var splicer = new FrameBodySplicer(_db.Engine, _exportOptions.BodyCacheBytes);
        await foreach (var batch in _db.Engine.QueryAsync(read, diag, ct).ConfigureAwait(false))
        {
            if (!needsSplice) { yield return batch; continue; }
            var whole = await splicer.SpliceAsync(batch, ct).ConfigureAwait(false);
            yield return ReferenceEquals(read, spec) ? whole : Project(whole, requested!);
        }
        if (splicer.Warning is { } w) warnings.Add(w);
    }

    private static RecordBatch Project(RecordBatch batch, IReadOnlyList<string> columns) =>
        new(Project(batch.Schema, columns), columns.Select(c => batch.Column(batch.Schema.GetFieldIndex(c))), batch.Length);

    private static Schema Project(Schema schema, IReadOnlyList<string> columns) =>
        new(columns.Select(schema.GetFieldByName), schema.Metadata);

    /// <summary>Streams the export (<see cref="PcapExporter"/>): memory stays bounded by <see cref="PcapExportOptions"/>, not by the result.</summary>
    public Task<PcapExportSummary> ExportPcapAsync(PcapExportRequest request, Stream output, CancellationToken ct = default) =>
        new PcapExporter(_db.Engine, _exportOptions).ExportAsync(request, output, ct);

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
