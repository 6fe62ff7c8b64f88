using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client;

/// <summary>
/// `connections as of T`: the engine selects the connections open at T (first_ts &lt;= T &lt;= last_ts);
/// their packet, byte and payload counters are then replaced by the values at T from
/// connection_timeline (the counters at the end of the second holding T), so a long-lived connection
/// shows what it had done by then, not its final totals. Every other column describes the whole connection.
/// </summary>
internal static class ConnectionsAsOf
{
    public static readonly string[] Counters = ["pkts_c2s", "pkts_s2c", "bytes_c2s", "bytes_s2c", "payload_c2s", "payload_s2c"];

    /// <summary>The engine query to run: the projection gains connection_id when it lacks it.</summary>
    public static QuerySpec Widen(QuerySpec spec) =>
        spec.Columns is { } cols && !cols.Contains("connection_id") ? spec with { Columns = [.. cols, "connection_id"] } : spec;

    public static async IAsyncEnumerable<RecordBatch> Overlay(TrafficStoreEngine engine, QuerySpec asked, IAsyncEnumerable<RecordBatch> batches,
        Schema output, [EnumeratorCancellation] CancellationToken ct)
    {
        long asOf = asked.AsOf!.Value;
        await foreach (var batch in batches.WithCancellation(ct).ConfigureAwait(false))
        {
            var ids = (Int64Array)batch.Column("connection_id");
            var wanted = Enumerable.Range(0, ids.Length).Where(i => !ids.IsNull(i)).Select(i => (object)ids.GetValue(i)!.Value).Distinct().ToArray();
            var at = new Dictionary<long, long[]>();
            if (wanted.Length > 0)
            {
                var timeline = new QuerySpec(TrafficTables.ConnectionTimeline)
                {
                    AsOf = asOf,
                    Filters = [ColumnFilter.In("connection_id", wanted)],
                    Columns = ["connection_id", .. Counters],
                };
                await foreach (var t in engine.QueryAsync(timeline, ct).ConfigureAwait(false))
                {
                    var tid = (Int64Array)t.Column(0);
                    for (int i = 0; i < t.Length; i++)
                        at[tid.GetValue(i)!.Value] = Counters.Select((_, c) => ((Int64Array)t.Column(c + 1)).GetValue(i) ?? 0).ToArray();
                }
            }
            var arrays = new List<IArrowArray>();
            foreach (var field in output.FieldsList)
            {
                var column = batch.Column(field.Name);
                int counter = System.Array.IndexOf(Counters, field.Name);
                if (counter < 0) { arrays.Add(column); continue; }
                var original = (Int64Array)column;
                var b = new Int64Array.Builder();
                for (int i = 0; i < batch.Length; i++)
                {
                    long? id = ids.GetValue(i);
                    long? value = id is long v && at.TryGetValue(v, out var counters) ? counters[counter] : original.GetValue(i);
                    if (value is long x) b.Append(x); else b.AppendNull();
                }
                arrays.Add(b.Build());
            }
            yield return new RecordBatch(output, arrays, batch.Length);
        }
    }
}
