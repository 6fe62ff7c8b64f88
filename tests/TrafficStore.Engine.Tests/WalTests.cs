using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

public class WalTests
{
    [Fact]
    public async Task ConcurrentAppendersShareFsyncsAndGetDistinctSequences()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { WalGroupCommitWindow = TimeSpan.FromMilliseconds(2) });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model(640);
        var tasks = Enumerable.Range(0, 64).Select(i => engine.AppendAsync("conns", QueryTests.ToBatch(model.Skip(i * 10).Take(10).ToList())).AsTask()).ToArray();
        var acks = await Task.WhenAll(tasks);
        Assert.Equal(64, acks.Select(a => a.Sequence).Distinct().Count());
        var stats = engine.GetStats();
        Assert.True(stats.WalCommits < 64, $"{stats.WalCommits} fsyncs for 64 appends");
        Assert.Equal(640, (await Rows(engine, new QuerySpec("conns"))).Count);
        Assert.True(stats.WalBytes > 0);
    }

    [Fact]
    public async Task FlushDropsSealedWalFilesAndReopenDoesNotDuplicate()
    {
        using var dir = new TempDir();
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(100)));
            await engine.FlushAsync();
            await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(100)));
            var stats = engine.GetStats();
            Assert.Equal(1, stats.SealedSequence);
            Assert.Equal(2, stats.LastSequence);
            Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "wal"), "*.wal")); // the sealed file is gone
        }
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Equal(200, (await Rows(reopened, new QuerySpec("conns"))).Count);
        Assert.Equal(200, reopened.GetStats().Tables["conns"].SealedRows); // Dispose flushed the rest
    }

    [Fact]
    public async Task SegmentsOfAnUnfinishedFlushAreRemovedAndTheirRowsReplayedOnce()
    {
        using var dir = new TempDir();
        var crashed = dir.Path + "-crashed";
        try
        {
            await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
            {
                engine.RegisterTable(QueryTests.ConnSpec);
                await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(100)));
                CopyStoreImage(dir.Path, crashed); // WAL holds the rows, no checkpoint yet
                await engine.FlushAsync();
                // The crash happened after the segments were renamed into place but before the checkpoint was written.
                CopyStoreImage(Path.Combine(dir.Path, "segments"), Path.Combine(crashed, "segments"));
            }
            await using var reopened = TrafficStoreEngine.Open(Options(crashed));
            Assert.Contains(reopened.Health.RecoveryNotes, n => n.Contains("unfinished flush"));
            Assert.Equal(100, (await Rows(reopened, new QuerySpec("conns"))).Count);
        }
        finally { if (Directory.Exists(crashed)) Directory.Delete(crashed, true); }
    }

    [Fact]
    public async Task ALostCheckpointNeverDeletesTheOnlyCopyOfRows()
    {
        using var dir = new TempDir();
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(100)));
            await engine.FlushAsync(); // sealed WAL file deleted: segments are the only copy
        }
        File.Delete(Path.Combine(dir.Path, "wal", "checkpoint"));
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Equal(100, (await Rows(reopened, new QuerySpec("conns"))).Count);
    }
}

public class StoreSettingsTests
{
    [Fact]
    public async Task AStoreCanBeOpenedByOneEngineAtATime()
    {
        using var dir = new TempDir();
        var first = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Throws<IOException>(() => TrafficStoreEngine.Open(Options(dir.Path)));
        await first.DisposeAsync();
        await using var second = TrafficStoreEngine.Open(Options(dir.Path));
    }

    [Fact]
    public async Task ReopeningWithAnotherPartitionDurationKeepsTheStoredOne()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(600, 1_000_000_000L); // 10 minutes
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path) with { PartitionDuration = TimeSpan.FromMinutes(5) }))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(model));
            await engine.FlushAsync();
        }
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path) with { PartitionDuration = TimeSpan.FromMinutes(1) });
        Assert.Equal(TimeSpan.FromMinutes(5), reopened.Options.PartitionDuration);
        Assert.Equal(2, reopened.GetStats().Tables["conns"].Segments);
        long from = Base + 150 * Second, to = Base + 420 * Second;
        var rows = await Rows(reopened, new QuerySpec("conns") { From = from, To = to, OrderByTime = true }.Where(ColumnFilter.Eq("pod", "pod-4")));
        Assert.Equal(model.Where(r => r.Time >= from && r.Time < to && r.Pod == "pod-4").Select(r => r.Time), rows.Select(r => (long)r["time"]!));
    }
}
