using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>Random query mixes (fixed seeds) against the LINQ model: filters, ranges, as-of, order, limit, projection.</summary>
public class RandomQueryTests
{
    private static (ColumnFilter Filter, Func<QueryTests.Row, bool> Match) RandomFilter(Random rng)
    {
        switch (rng.Next(9))
        {
            case 0: { var p = $"pod-{rng.Next(12)}"; return (ColumnFilter.Eq("pod", p), r => r.Pod == p); }
            case 1: { var n = $"ns{rng.Next(5)}"; return (ColumnFilter.NotEq("namespace", n), r => r.Ns != n); }
            case 2: { long b = rng.Next(0, 31000); return (ColumnFilter.Lt("bytes", b), r => r.Bytes < b); }
            case 3: { double d = rng.Next(0, 1600) / 1.0; return (ColumnFilter.Ge("rtt", d), r => r.Rtt >= d); }
            case 4: { long c = rng.Next(0, 1100); return (ColumnFilter.Le("connection_id", c), r => r.ConnId <= c); }
            case 5: { var pre = $"/api/v{rng.Next(3)}/items/{rng.Next(1, 30)}"; return (ColumnFilter.Prefix("path", pre), r => r.Path.StartsWith(pre, StringComparison.Ordinal)); }
            case 6: { var a = rng.Next(1000); var b = rng.Next(1000); return (ColumnFilter.In("connection_id", (long)a, (long)b), r => r.ConnId == a || r.ConnId == b); }
            case 7: { bool ok = rng.Next(2) == 0; return (ColumnFilter.Eq("ok", ok), r => r.Ok == ok); }
            default: { long t = Base + rng.NextInt64(0, 360) * Second; return (ColumnFilter.Gt("end_time", t), r => r.End > t); }
        }
    }

    [Theory]
    [InlineData(101)] [InlineData(202)] [InlineData(303)]
    public async Task RandomQueriesMatchTheModel(int seed)
    {
        using var dir = new TempDir();
        var rng = new Random(seed);
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 100 + rng.Next(200), MaxSegmentBytes = 8 << 10 });
        engine.RegisterTable(QueryTests.ConnSpec);
        // Random appends and flushes: some partitions get several segments, the tail stays unsealed.
        var shuffled = model.OrderBy(_ => rng.Next()).ToList();
        for (int i = 0; i < shuffled.Count; i += 400)
        {
            await engine.AppendAsync("conns", QueryTests.ToBatch(shuffled.Skip(i).Take(400).ToList()));
            if (rng.Next(3) > 0) await engine.FlushAsync();
        }
        for (int q = 0; q < 30; q++)
        {
            var spec = new QuerySpec("conns");
            IEnumerable<QueryTests.Row> expected = model;
            (spec, expected) = QueryTests.RandomWindow(rng, spec, expected);
            for (int f = rng.Next(3); f > 0; f--)
            {
                var (filter, match) = RandomFilter(rng);
                spec = spec.Where(filter);
                expected = expected.Where(match);
            }
            var want = expected.OrderBy(r => r.Time).Select(r => r.Time).ToList();
            bool ordered = rng.Next(2) == 0;
            spec = spec with { OrderByTime = ordered };
            if (ordered && rng.Next(2) == 0)
            {
                int limit = rng.Next(1, 50);
                spec = spec with { Limit = limit };
                want = want.Take(limit).ToList();
            }
            var rows = await Rows(engine, spec.Select("time", "pod"));
            var got = rows.Select(r => (long)r["time"]!).ToList();
            Assert.Equal(want, ordered ? got : got.Order().ToList());
            var estimate = await engine.EstimateAsync(spec);
            Assert.True(estimate.EstimatedRows >= want.Count, $"estimate {estimate.EstimatedRows} < {want.Count} for {spec}");
        }
    }
}
