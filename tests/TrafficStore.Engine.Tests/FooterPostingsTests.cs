using Apache.Arrow;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// The planner looks indexed values up in the footers of the segments the zone maps leave (FooterPostings) and asks
/// the posting store only where a footer's summary cannot be binary-searched: both must name the same row groups,
/// and queries must return the model's rows either way, whatever is sealed or retained after planning.
/// </summary>
public class FooterPostingsTests
{
    /// <summary>Even rows in one flush, odd rows in the next: both segments span every connection id, pod and partition.</summary>
    private static async Task<(TrafficStoreEngine Engine, List<QueryTests.Row> Model)> Interleaved(string dir, List<QueryTests.Row>? model = null)
    {
        var engine = TrafficStoreEngine.Open(Options(dir) with { RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        model ??= QueryTests.Model();
        for (int parity = 0; parity < 2; parity++)
        {
            await engine.AppendAsync("conns", QueryTests.ToBatch(model.Where((_, i) => i % 2 == parity).ToList()));
            await engine.FlushAsync();
        }
        return (engine, model);
    }

    [Fact]
    public async Task FooterLookupsNameTheRowGroupsThePostingStoreNames()
    {
        using var dir = new TempDir();
        var (engine, model) = await Interleaved(dir.Path);
        await using var _ = engine;
        var segments = engine.TableState("conns").Snapshot.Segments.Values.ToList();
        Assert.Equal(12, segments.Count); // two per minute
        var probes = new (string Column, ColumnType Type, string Value)[]
        {
            ("pod", ColumnType.Utf8, "pod-3"), ("pod", ColumnType.Utf8, "pod-missing"), ("namespace", ColumnType.Utf8, "ns1"),
            ("connection_id", ColumnType.Int64, "0"), ("connection_id", ColumnType.Int64, "517"), ("connection_id", ColumnType.Int64, "999"),
            ("connection_id", ColumnType.Int64, "1000"), ("connection_id", ColumnType.Int64, "-1"),
        };
        int found = 0;
        foreach (var handle in segments)
        {
            foreach (var (column, type, value) in probes)
            {
                var groups = new HashSet<int>();
                Assert.Equal(FooterPostings.Answer.Found, FooterPostings.Lookup(handle.Footer, column, type, [value], groups));
                var (matches, covered) = engine.Index.Lookup("conns", column, [value], handle.Footer.Partitions.ToList(), long.MinValue, long.MaxValue);
                Assert.Contains(handle.Id, covered);
                var expected = matches.TryGetValue(handle.Id, out var g) ? g : [];
                Assert.Equal(expected.Order(), groups.Order());
                found += groups.Count;
            }
            // A column without an index summary in the footer: not covered, the segment is scanned.
            Assert.Equal(FooterPostings.Answer.NotCovered, FooterPostings.Lookup(handle.Footer, "path", ColumnType.Utf8, ["/api/v0/items/0"], []));
        }
        Assert.True(found > 0);

        // Queries without a time window (index from the footers) and with one return the model's rows.
        foreach (long id in new long[] { 0, 517, 999, 5000 })
        {
            var diag = new QueryDiagnostics();
            var rows = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", id)), diag);
            Assert.Equal(model.Where(r => r.ConnId == id).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
            Assert.Equal(id < 1000, diag.UsedIndex); // 5000: above every segment's connection_id range, no segment left to look up
            var windowed = await Rows(engine, new QuerySpec("conns") { From = Base + 60 * Second, To = Base + 200 * Second }.Where(ColumnFilter.Eq("connection_id", id)));
            Assert.Equal(model.Where(r => r.ConnId == id && r.Time >= Base + 60 * Second && r.Time < Base + 200 * Second).Select(r => r.Time).Order(),
                windowed.Select(r => (long)r["time"]!).Order());
        }
        var pods = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.In("pod", "pod-1", "pod-7", "pod-none")).Where(ColumnFilter.Eq("namespace", "ns3")));
        Assert.Equal(model.Where(r => (r.Pod == "pod-1" || r.Pod == "pod-7") && r.Ns == "ns3").Select(r => r.Time).Order(), pods.Select(r => (long)r["time"]!).Order());
    }

    [Fact]
    public async Task ASummaryNotInByteOrderIsLeftToThePostingStore()
    {
        // The writer sorts utf8 values by UTF-16 ordinal: a character above the surrogates (U+FF61) sorts after an
        // emoji there but before it in UTF-8 byte order, so the footer's summary cannot be binary-searched by bytes.
        const string Halfwidth = "pod-\uFF61", Emoji = "pod-\U0001F600";
        var model = QueryTests.Model().Select((r, i) => i % 5 == 0 ? r with { Pod = Halfwidth } : i % 5 == 1 ? r with { Pod = Emoji } : r).ToList();
        using var dir = new TempDir();
        var (engine, _) = await Interleaved(dir.Path, model);
        await using var _ = engine;
        foreach (var handle in engine.TableState("conns").Snapshot.Segments.Values)
        {
            Assert.Equal(FooterPostings.Answer.Unsearchable, FooterPostings.Lookup(handle.Footer, "pod", ColumnType.Utf8, [Emoji], []));
            Assert.Equal(FooterPostings.Answer.Found, FooterPostings.Lookup(handle.Footer, "connection_id", ColumnType.Int64, ["7"], []));
        }
        foreach (var pod in new[] { Halfwidth, Emoji, "pod-2" })
        {
            var diag = new QueryDiagnostics();
            var rows = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("pod", pod)), diag);
            Assert.Equal(model.Where(r => r.Pod == pod).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
            Assert.True(diag.UsedIndex);
        }
    }

    [Fact]
    public async Task ASegmentSealedOrRetainedAfterPlanningLeavesThePlannedQueryAlone()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model();
        // Minute 0's rows, then minute 1's, sealed apart; later minute 2's hold the same connection id as well.
        const long Id = 7;
        List<QueryTests.Row> Minute(int m, long? id = null) =>
            model.Where(r => r.Time >= Base + m * 60 * Second && r.Time < Base + (m + 1) * 60 * Second).Select(r => id is long x ? r with { ConnId = x } : r).ToList();
        var first = Minute(0);
        var second = Minute(1, Id);
        await engine.AppendAsync("conns", QueryTests.ToBatch(first));
        await engine.FlushAsync();
        await engine.AppendAsync("conns", QueryTests.ToBatch(second));
        await engine.FlushAsync();

        // One row per batch: the plan is made before the first batch, the rest read after the store changed.
        var query = new QuerySpec("conns") { MaxBatchRows = 1, OrderByTime = true }.Where(ColumnFilter.Eq("connection_id", Id));
        var planned = first.Concat(second).Where(r => r.ConnId == Id).Select(r => r.Time).Order().ToList();
        Assert.True(planned.Count > 3);
        var times = new List<long>();
        await using (var e = engine.QueryAsync(query).GetAsyncEnumerator())
        {
            Assert.True(await e.MoveNextAsync());
            times.Add(((TimestampArray)e.Current.Column("time")).GetValue(0)!.Value);
            // A new segment holding the id, then retention deleting minute 0's segment (the one being read).
            var third = Minute(2, Id);
            await engine.AppendAsync("conns", QueryTests.ToBatch(third));
            await engine.FlushAsync();
            long cutoffAge = QuerySpec.ToNs(DateTimeOffset.UtcNow) - (Base + 90 * Second); // minute 1 straddles the cutoff: kept
            await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromTicks(cutoffAge / 100)) });
            await engine.ApplyRetentionAsync();
            while (await e.MoveNextAsync()) times.Add(((TimestampArray)e.Current.Column("time")).GetValue(0)!.Value);
        }
        // Nothing of the segment sealed after planning; of the planned segments, what was read, in order. Minute 0's
        // rows are read from the file opened before retention deleted it (an open file outlives its deletion).
        Assert.Equal(planned, times);

        // The next query is planned on the new snapshot: minute 0 gone, minutes 1 and 2 found through their footers.
        var after = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", Id)));
        var expected = second.Concat(Minute(2, Id)).Select(r => r.Time).Order();
        Assert.Equal(expected, after.Select(r => (long)r["time"]!).Order());
    }
}
