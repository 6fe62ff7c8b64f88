using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

public class RetentionTests
{
    private const int Partitions = 20;
    private static readonly DateTimeOffset Now = QuerySpec.FromNs(Base + Partitions * Minute);

    /// <summary>20 one-minute partitions of 40 rows (1.5 s apart, namespaces ns0..ns3 in turn), one segment each.</summary>
    private static async Task<(TrafficStoreEngine Engine, List<QueryTests.Row> Model, List<string> Log)> Store(string dir)
    {
        var log = new List<string>();
        var engine = TrafficStoreEngine.Open(Options(dir) with
        {
            Clock = new FixedClock(Now),
            Log = (_, m) => { lock (log) log.Add(m); },
        });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model(Partitions * 40, 1_500_000_000L);
        await engine.AppendAsync("conns", QueryTests.ToBatch(model));
        await engine.FlushAsync();
        Assert.Equal(Partitions, engine.GetStats().Tables["conns"].Segments);
        return (engine, model, log);
    }

    private static async Task<List<long>> PartitionsWithRows(TrafficStoreEngine engine, params ColumnFilter[] filters) =>
        (await Rows(engine, new QuerySpec("conns").Where(filters))).Select(r => ((long)r["time"]! - Base) / Minute).Distinct().Order().ToList();

    [Fact]
    public async Task MaxAgeDeletesExactlyTheSegmentsOlderThanTheCutoff()
    {
        using var dir = new TempDir();
        var (engine, _, log) = await Store(dir.Path);
        await using var _ = engine;
        long indexBefore = engine.GetStats().IndexEntries;
        var events = new List<RetentionAction>();
        engine.RetentionApplied += a => events.Add(a);
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(10.5)) });
        var report = await engine.ApplyRetentionAsync();

        // cutoff = now - 10.5 min = minute 9.5: partitions 0..8 end before it; partition 9 straddles it and stays whole.
        Assert.Equal(Enumerable.Range(9, 11).Select(i => (long)i), await PartitionsWithRows(engine));
        Assert.Equal(9, report.Actions.Count);
        Assert.All(report.Actions, a => Assert.Equal(RetentionActionKind.DeletedSegment, a.Kind));
        Assert.Equal(report.Actions, events);
        Assert.Equal(9, log.Count(l => l.StartsWith("Retention DeletedSegment")));
        var stats = engine.GetStats();
        Assert.Equal(9, stats.RetentionDeletedSegments);
        Assert.Equal(9 * 40, stats.RetentionDeletedRows);
        Assert.True(stats.IndexEntries < indexBefore);
        Assert.Empty(await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", 10L)))); // index entry of a deleted segment
        Assert.Empty((await engine.ApplyRetentionAsync()).Actions); // idempotent
    }

    [Fact]
    public async Task MaxBytesDeletesOldestSegmentsUntilUnderTheLimit()
    {
        using var dir = new TempDir();
        var (engine, _, _) = await Store(dir.Path);
        await using var _ = engine;
        var sizes = Directory.GetFiles(Path.Combine(dir.Path, "segments", "conns"), "*.seg", SearchOption.AllDirectories)
            .Select(f => (Partition: Path.GetFileName(Path.GetDirectoryName(f))!, Bytes: new FileInfo(f).Length)).OrderBy(x => x.Partition).ToList();
        long newestSeven = sizes.TakeLast(7).Sum(s => s.Bytes);
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxBytes: newestSeven + sizes[^8].Bytes / 2) });
        var report = await engine.ApplyRetentionAsync();
        Assert.Equal(13, report.Actions.Count);
        Assert.Equal(Enumerable.Range(13, 7).Select(i => (long)i), await PartitionsWithRows(engine));
        Assert.Equal(newestSeven, engine.GetStats().Tables["conns"].BytesOnDisk);
    }

    [Fact]
    public async Task NamespaceMaxAgeRewritesSegmentsWithoutThatNamespacesOldRows()
    {
        using var dir = new TempDir();
        var (engine, model, _) = await Store(dir.Path);
        await using var _ = engine;
        await engine.SetRetentionPolicyAsync(new RetentionPolicy
        {
            Namespaces = new Dictionary<string, RetentionLimits> { ["ns1"] = new(MaxAge: TimeSpan.FromMinutes(15)) },
        });
        var report = await engine.ApplyRetentionAsync();
        long cutoff = Base + 5 * Minute;
        Assert.Equal(5, report.Actions.Count); // partitions 0..4 hold ns1 rows older than minute 5
        Assert.All(report.Actions, a => { Assert.Equal(RetentionActionKind.RewroteSegment, a.Kind); Assert.Equal("ns1", a.Namespace); });
        var rows = await Rows(engine, new QuerySpec("conns"));
        var expected = model.Where(r => !(r.Ns == "ns1" && r.Time < cutoff)).Select(r => r.Time).Order();
        Assert.Equal(expected, rows.Select(r => (long)r["time"]!).Order());
        Assert.Equal(Partitions, engine.GetStats().Tables["conns"].Segments);
        // The rewritten segments are indexed: an indexed ns1 query reads only partitions 5..19.
        var diag = new QueryDiagnostics();
        Assert.Equal(Enumerable.Range(5, 15).Select(i => (long)i), await PartitionsWithRows(engine, ColumnFilter.Eq("namespace", "ns1")));
        await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("namespace", "ns1")), diag);
        Assert.Equal(15, diag.SegmentsRead);
        Assert.Equal(5 * 10, engine.GetStats().RetentionDeletedRows);
        await engine.DisposeAsync();
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Equal(rows.Count, (await Rows(reopened, new QuerySpec("conns"))).Count);
    }

    [Fact]
    public async Task NamespaceMaxBytesRemovesThatNamespaceOldestFirst()
    {
        using var dir = new TempDir();
        var (engine, model, _) = await Store(dir.Path);
        await using var _ = engine;
        long perSegment = engine.GetStats().Tables["conns"].BytesOnDisk / Partitions;
        // ns2 holds a quarter of every segment: a limit of ~3 segments' quarter keeps about the newest 3 partitions of ns2.
        await engine.SetRetentionPolicyAsync(new RetentionPolicy
        {
            Namespaces = new Dictionary<string, RetentionLimits> { ["ns2"] = new(MaxBytes: perSegment * 3 / 4) },
        });
        await engine.ApplyRetentionAsync();
        var kept = await PartitionsWithRows(engine, ColumnFilter.Eq("namespace", "ns2"));
        Assert.NotEmpty(kept);
        Assert.InRange(kept.Count, 2, 4);
        Assert.Equal(Enumerable.Range(Partitions - kept.Count, kept.Count).Select(i => (long)i), kept); // a suffix: oldest went first
        foreach (var ns in new[] { "ns0", "ns1", "ns3" })
            Assert.Equal(model.Count(r => r.Ns == ns), (await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("namespace", ns)))).Count);
    }

    [Fact]
    public async Task DeletionTotalsSurviveARestart()
    {
        using var dir = new TempDir();
        var (engine, _, _) = await Store(dir.Path);
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(10.5)) });
        await engine.ApplyRetentionAsync();
        var before = engine.GetStats();
        Assert.Equal(9, before.RetentionDeletedSegments);
        await engine.DisposeAsync();

        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path) with { Clock = new FixedClock(Now) });
        reopened.RegisterTable(QueryTests.ConnSpec);
        var after = reopened.GetStats();
        Assert.Equal((before.RetentionDeletedSegments, before.RetentionRewrittenSegments, before.RetentionDeletedRows, before.RetentionDeletedBytes),
            (after.RetentionDeletedSegments, after.RetentionRewrittenSegments, after.RetentionDeletedRows, after.RetentionDeletedBytes));
        Assert.True(after.RetentionDeletedBytes > 0);
    }

    [Fact]
    public async Task PolicyIsPersisted()
    {
        using var dir = new TempDir();
        var policy = new RetentionPolicy
        {
            Global = new(TimeSpan.FromDays(7), 10L << 30),
            Namespaces = new Dictionary<string, RetentionLimits> { ["kube-system"] = new(TimeSpan.FromHours(1), null) },
        };
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path))) await engine.SetRetentionPolicyAsync(policy);
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Equal(policy.Global, reopened.RetentionPolicy.Global);
        Assert.Equal(TimeSpan.FromHours(1), reopened.RetentionPolicy.Namespaces["kube-system"].MaxAge);
        Assert.Null(reopened.RetentionPolicy.Namespaces["kube-system"].MaxBytes);
    }
}
