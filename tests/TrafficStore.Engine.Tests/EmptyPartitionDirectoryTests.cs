using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.PackedSegmentTests;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Partition directories left empty by retention (deletes, rewrites into another partition's folder) are removed, and open
/// removes those an older store collected; a directory holding anything stays, and a writer into a just-removed
/// partition recreates its directory.
/// </summary>
public class EmptyPartitionDirectoryTests
{
    private static StoreOptions At(string dir, long nowNs) => Options(dir) with { Clock = new FixedClock(QuerySpec.FromNs(nowNs)) };

    private static string PartitionDir(string dir, int minute) =>
        Path.Combine(dir, "segments", "conns", StoreLayout.PartitionName(Base + minute * Minute));

    private static List<int> MinutesWithDirectories(string dir) =>
        Enumerable.Range(0, 30).Where(m => Directory.Exists(PartitionDir(dir, m))).ToList();

    [Fact]
    public async Task AnAgePolicyRemovesTheDirectoriesOfThePartitionsItDeletes()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 20 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(20 * 40, 1_500_000_000L))); // minutes 0..19
        await engine.FlushAsync();
        Assert.Equal(Enumerable.Range(0, 20), MinutesWithDirectories(dir.Path));

        // Cutoff minute 9.5: the segments of minutes 0..8 are deleted, so are their folders; minute 9 straddles and stays.
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(10.5)) });
        Assert.Equal(9, (await engine.ApplyRetentionAsync()).Actions.Count);
        Assert.Equal(Enumerable.Range(9, 11), MinutesWithDirectories(dir.Path));
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "segments", "conns"))); // the table directory stays
    }

    [Fact]
    public async Task ARewriteOfAPackedFileRemovesTheFolderItLeft()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(); // minutes 0..5
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute) with { RowGroupRows = 100 });
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model.Where(r => r.Time < Base + 3 * Minute).ToList()); // one packed file in minute 0's folder
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 3 * Minute).ToList()); // one in minute 3's
        Assert.Equal([0, 3], MinutesWithDirectories(dir.Path));

        // Cutoff 2:30: the first file is rewritten with minute 2 only, into minute 2's folder; minute 0's folder is emptied.
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
        Assert.Equal(RetentionActionKind.RewroteSegment, Assert.Single((await engine.ApplyRetentionAsync()).Actions).Kind);
        Assert.Equal([2, 3], MinutesWithDirectories(dir.Path));

        // A query running across the next rewrite keeps the replaced file (and so its folder) until it ends.
        var lease = engine.ReplacedFiles.BeginRead();
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(5.5)) }); // cutoff 4:30
        var actions = (await engine.ApplyRetentionAsync()).Actions;
        Assert.Equal([RetentionActionKind.DeletedSegment, RetentionActionKind.RewroteSegment], actions.Select(a => a.Kind));
        Assert.Equal([3, 4], MinutesWithDirectories(dir.Path)); // minute 2's deleted file does not wait; minute 3's replaced one does
        lease.Dispose();
        Assert.Equal([4], MinutesWithDirectories(dir.Path));
        Assert.Equal(TimesFrom(model, 4), (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!));
    }

    private static List<long> TimesFrom(IEnumerable<QueryTests.Row> model, int minute) =>
        model.Where(r => r.Time >= Base + minute * Minute).Select(r => r.Time).Order().ToList();

    [Fact]
    public async Task OpenRemovesEmptyPartitionDirectoriesAndKeepsAnyHoldingFiles()
    {
        using var dir = new TempDir();
        var options = At(dir.Path, Base + 10 * Minute);
        var model = QueryTests.Model(); // minutes 0..5
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(model));
            await engine.FlushAsync();
        }
        // As an older build's retention left them: empty folders of minutes 10..14 (and one of another table).
        foreach (var m in Enumerable.Range(10, 5)) Directory.CreateDirectory(PartitionDir(dir.Path, m));
        var otherTable = Path.Combine(dir.Path, "segments", "dns", StoreLayout.PartitionName(Base));
        Directory.CreateDirectory(otherTable);
        // Folders holding something that is not a segment are not ours to judge: they stay, with their file.
        Directory.CreateDirectory(PartitionDir(dir.Path, 20));
        File.WriteAllText(Path.Combine(PartitionDir(dir.Path, 20), "notes.unknown"), "kept");
        Directory.CreateDirectory(Path.Combine(PartitionDir(dir.Path, 21), "sub"));

        await using var reopened = TrafficStoreEngine.Open(options);
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal([0, 1, 2, 3, 4, 5, 20, 21], MinutesWithDirectories(dir.Path));
        Assert.False(Directory.Exists(otherTable));
        Assert.True(Directory.Exists(Path.GetDirectoryName(otherTable))); // table directories stay
        Assert.Equal("kept", File.ReadAllText(Path.Combine(PartitionDir(dir.Path, 20), "notes.unknown")));
        Assert.True(Directory.Exists(Path.Combine(PartitionDir(dir.Path, 21), "sub")));
        Assert.Contains("Removed 6 empty partition directories.", reopened.Health.RecoveryNotes);
        Assert.Equal(model.Count, (await Rows(reopened, new QuerySpec("conns"))).Count);
    }

    [Fact]
    public async Task ABulkLoadIntoAPartitionWhoseDirectoryWasJustRemovedWorks()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(); // minutes 0..5
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await engine.AppendAsync("conns", QueryTests.ToBatch(model));
        await engine.FlushAsync();
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(9)) }); // cutoff minute 1
        await engine.ApplyRetentionAsync();
        Assert.Equal([1, 2, 3, 4, 5], MinutesWithDirectories(dir.Path));

        // Late rows of minute 0 arrive (a capture loaded after the fact): its folder is created again.
        var late = model.Where(r => r.Time < Base + Minute).ToList();
        await BulkLoad(engine, late);
        Assert.Equal([0, 1, 2, 3, 4, 5], MinutesWithDirectories(dir.Path));
        Assert.Equal(late.Select(r => r.Time).Order(),
            (await Rows(engine, new QuerySpec("conns") { OrderByTime = true, To = Base + Minute })).Select(r => (long)r["time"]!));
    }

    /// <summary>
    /// The race a writer has with a removal: the directory goes between its CreateDirectory and its file creation.
    /// A remover spinning on the directory hits that window; every creation must still succeed.
    /// </summary>
    [Fact]
    public void CreatingAFileSurvivesTheRemovalOfItsEmptyDirectoryInBetween()
    {
        using var dir = new TempDir();
        var partition = Path.Combine(dir.Path, "p");
        using var stop = new CancellationTokenSource();
        int removals = 0;
        using var running = new ManualResetEventSlim();
        // A thread of its own: on a loaded 2-core machine a pool thread could start only after the creations were done.
        var remover = Task.Factory.StartNew(() =>
        {
            running.Set();
            while (!stop.IsCancellationRequested)
                if (PartitionDirectories.RemoveIfEmpty(partition)) Interlocked.Increment(ref removals);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            Assert.True(running.Wait(TimeSpan.FromSeconds(60)), "the remover never started");
            // 3000 creations, and more until the remover has removed the directory at least once (it can be descheduled
            // for the whole of the first 3000), within a generous deadline.
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 3000 || (Volatile.Read(ref removals) == 0 && deadline.Elapsed < TimeSpan.FromSeconds(60)); i++)
            {
                var path = Path.Combine(partition, $"{i}.seg.tmp");
                using (var file = PartitionDirectories.CreateFile(path, 1)) file.WriteByte(1);
                Assert.False(PartitionDirectories.RemoveIfEmpty(partition)); // holds the file: never removed
                File.Delete(path);
            }
        }
        finally
        {
            stop.Cancel();
            remover.Wait();
        }
        Assert.True(removals > 0, "the remover never removed the directory: the race was not exercised");
    }
}
