using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;
using StoreFilterOp = TrafficStore.Store.Query.FilterOp;

namespace TrafficStore.Server.Flight;

/// <summary>
/// Time travel on connections: <c>connections as of T</c> selects the connections open at T (the
/// engine's as-of on first_ts/last_ts) and replaces their traffic counters with the values they had
/// at T, read from <c>connection_timeline</c> (one row per connection and active second, holding the
/// counters at the end of that second). So the counters are exact to the second: as of T they
/// include the packets up to the end of T's second. Columns without a timeline counterpart
/// (handshake figures, health, close reason, last_ts) keep their final values.
/// </summary>
public static class ConnectionsAsOf
{
    public const string Connections = "connections";
    public const string Timeline = "connection_timeline";

    /// <summary>Counter columns of connections that connection_timeline tracks under the same name.</summary>
    public static readonly string[] Counters = ["pkts_c2s", "pkts_s2c", "bytes_c2s", "bytes_s2c", "payload_c2s", "payload_s2c"];

    public static bool Applies(TrafficQuery q) => q.Table == Connections && q.AsOfNs is not null;

    public static async Task<TrafficQueryResult> QueryAsync(ITrafficClient client, TrafficQuery query, CancellationToken ct)
    {
        var full = await client.QueryAsync(query with { Select = null }, ct);
        var batches = new List<RecordBatch>();
        await foreach (var b in full.Batches.WithCancellation(ct)) batches.Add(b);

        var ids = new HashSet<long>();
        foreach (var b in batches)
        {
            var column = (Int64Array)b.Column(b.Schema.GetFieldIndex("connection_id"));
            for (int i = 0; i < column.Length; i++) if (column.GetValue(i) is long id) ids.Add(id);
        }
        var counters = ids.Count == 0 ? new Dictionary<long, (long Ts, long?[] Values)>() : await TimelineAsync(client, query.AsOfNs!.Value, ids, ct);

        var schema = full.Schema;
        IReadOnlyList<int>? projection = null;
        if (query.Select is { } select)
        {
            projection = select.Select(c => full.Schema.GetFieldIndex(c)).ToList();
            schema = new Schema(projection.Select(i => full.Schema.GetFieldByIndex(i)), full.Schema.Metadata);
        }
        var output = batches.Select(b => Project(Apply(b, counters), projection, schema)).ToList();
        return new TrafficQueryResult(schema, ToAsync(output), full.Warnings);
    }

    private static async Task<Dictionary<long, (long Ts, long?[] Values)>> TimelineAsync(ITrafficClient client, long asOf, HashSet<long> ids, CancellationToken ct)
    {
        var q = new TrafficQuery
        {
            Table = Timeline,
            AsOfNs = asOf,
            Filters = [new QueryFilter("connection_id", StoreFilterOp.In, ids.Select(i => QueryValue.Of(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList())],
            Select = ["ts", "connection_id", .. Counters],
        };
        var result = await client.QueryAsync(q, ct);
        var map = new Dictionary<long, (long Ts, long?[] Values)>();
        await foreach (var b in result.Batches.WithCancellation(ct))
        {
            var ts = (TimestampArray)b.Column(0);
            var id = (Int64Array)b.Column(1);
            for (int r = 0; r < b.Length; r++)
            {
                if (id.GetValue(r) is not long cid) continue;
                long t = ts.GetValue(r) ?? long.MinValue;
                // Intervals of one connection do not overlap; keep the latest in case of a boundary tie.
                if (map.TryGetValue(cid, out var existing) && existing.Ts > t) continue;
                map[cid] = (t, Counters.Select((_, c) => ((Int64Array)b.Column(2 + c)).GetValue(r)).ToArray());
            }
        }
        return map;
    }

    private static RecordBatch Apply(RecordBatch b, Dictionary<long, (long Ts, long?[] Values)> counters)
    {
        if (counters.Count == 0) return b;
        var ids = (Int64Array)b.Column(b.Schema.GetFieldIndex("connection_id"));
        var columns = Enumerable.Range(0, b.ColumnCount).Select(b.Column).ToArray();
        for (int c = 0; c < Counters.Length; c++)
        {
            int index = b.Schema.GetFieldIndex(Counters[c]);
            if (index < 0) continue;
            var old = (Int64Array)columns[index];
            var builder = new Int64Array.Builder();
            for (int r = 0; r < b.Length; r++)
            {
                long? value = ids.GetValue(r) is long id && counters.TryGetValue(id, out var at) ? at.Values[c] : old.GetValue(r);
                if (value is long v) builder.Append(v);
                else builder.AppendNull();
            }
            columns[index] = builder.Build();
        }
        return new RecordBatch(b.Schema, columns, b.Length);
    }

    private static RecordBatch Project(RecordBatch b, IReadOnlyList<int>? projection, Schema schema) =>
        projection is null ? b : new RecordBatch(schema, projection.Select(b.Column), b.Length);

    private static async IAsyncEnumerable<RecordBatch> ToAsync(IEnumerable<RecordBatch> batches, [EnumeratorCancellation] CancellationToken ct = default)
    {
        foreach (var b in batches)
        {
            ct.ThrowIfCancellationRequested();
            yield return b;
        }
        await Task.CompletedTask;
    }
}
