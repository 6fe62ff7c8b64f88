using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.PackedSegmentTests;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// The deferred deletes of replaced segment files (<see cref="ReplacedSegmentFiles"/>) with injected I/O failures: one
/// failed delete must not drop the rest of the list, the failed file stays for a retry (logged and counted), a retry
/// never deletes a file a running query may read, and a file never goes before an older file of its chain.
/// </summary>
public class DeferredDeleteTests
{
    /// <summary>Deletes files for real, except that each path in <see cref="FailOnce"/> fails its next delete.</summary>
    private sealed class FlakyDisk
    {
        public readonly HashSet<string> FailOnce = [];
        public void Delete(string path)
        {
            lock (FailOnce)
                if (FailOnce.Remove(path)) throw new IOException($"injected: cannot delete {path}");
            PartitionDirectories.DeleteSegmentFile(path);
        }
    }

    private static SegmentHandle Segment(string dir, long id, long replaces = 0)
    {
        Directory.CreateDirectory(dir); // a delete removes the folder once it is empty
        var path = Path.Combine(dir, $"{id:D12}.seg");
        File.WriteAllText(path, "x");
        var footer = new SegmentFooter
        {
            Table = "t", SegmentId = id, PartitionStart = 0, FlushSeq = 0, Replaces = replaces, RowCount = 0, MinTime = 0, MaxTime = 0,
            CreatedUnixMs = 0, UncompressedBytes = 0, SchemaVersion = 1, Columns = [], TimeColumn = "time", RowGroups = [], Chunks = [], Index = [],
        };
        return new SegmentHandle(path, footer, 1);
    }

    private static (ReplacedSegmentFiles Files, FlakyDisk Disk, List<string> Log) Setup()
    {
        var disk = new FlakyDisk();
        var log = new List<string>();
        var files = new ReplacedSegmentFiles { DeleteFile = disk.Delete, Log = (_, m) => { lock (log) log.Add(m); } };
        return (files, disk, log);
    }

    [Fact]
    public void AFailedDeleteDoesNotDropTheRestAndIsRetriedLater()
    {
        using var dir = new TempDir();
        var (files, disk, log) = Setup();
        var query = files.BeginRead();
        var segments = new[] { Segment(dir.Path, 1), Segment(dir.Path, 2), Segment(dir.Path, 3) };
        foreach (var s in segments) files.Retire(s);
        disk.FailOnce.Add(segments[0].Path);

        query.Dispose(); // all three are due now; the first delete fails
        Assert.True(File.Exists(segments[0].Path));
        Assert.False(File.Exists(segments[1].Path));
        Assert.False(File.Exists(segments[2].Path));
        Assert.Equal((1, 1L), (files.Pending, files.FailedDeletes));
        Assert.Single(log, m => m.Contains("Could not delete") && m.Contains(segments[0].Path));

        files.BeginRead().Dispose(); // the next time deferred deletes run: retried
        Assert.False(File.Exists(segments[0].Path));
        Assert.Equal((0, 1L), (files.Pending, files.FailedDeletes));
    }

    [Fact]
    public void ARetryNeverDeletesAFileARunningQueryMayRead()
    {
        using var dir = new TempDir();
        var (files, disk, _) = Setup();
        var first = files.BeginRead();
        var a = Segment(dir.Path, 1);
        files.Retire(a);                 // swap 1: the first query may read a
        var second = files.BeginRead();  // started after swap 1: may read b
        var b = Segment(dir.Path, 2);
        files.Retire(b);                 // swap 2
        disk.FailOnce.Add(a.Path);

        first.Dispose();                 // a is due and fails; b is not due (the second query runs)
        Assert.True(File.Exists(a.Path));
        files.BeginRead().Dispose();     // a retry: a goes, b still may be read
        Assert.False(File.Exists(a.Path));
        Assert.True(File.Exists(b.Path));
        second.Dispose();
        Assert.False(File.Exists(b.Path));
        Assert.Equal(0, files.Pending);
    }

    [Fact]
    public void AFileWaitsWhileAnOlderFileOfItsChainIsNotDeleted()
    {
        using var dir = new TempDir();
        var (files, disk, _) = Setup();
        var query = files.BeginRead();
        var original = Segment(dir.Path, 1);
        var rewrite = Segment(dir.Path, 2, replaces: 1); // itself replaced later: names the original
        files.Retire(original);
        files.Retire(rewrite);
        disk.FailOnce.Add(original.Path);

        query.Dispose();
        Assert.True(File.Exists(original.Path));
        Assert.True(File.Exists(rewrite.Path)); // deleting it now would leave the original named by no file
        Assert.Equal(2, files.Pending);
        files.BeginRead().Dispose();
        Assert.False(File.Exists(original.Path));
        Assert.False(File.Exists(rewrite.Path));

        // DeleteChain (a segment naming the chain is deleted) stops at the failure and says so.
        var c1 = Segment(dir.Path, 3);
        var c2 = Segment(dir.Path, 4, replaces: 3);
        query = files.BeginRead();
        files.Retire(c1);
        files.Retire(c2);
        disk.FailOnce.Add(c1.Path);
        Assert.False(files.DeleteChain(4));
        Assert.True(File.Exists(c1.Path) && File.Exists(c2.Path));
        Assert.True(files.DeleteChain(4));
        Assert.False(File.Exists(c1.Path) || File.Exists(c2.Path));
        query.Dispose();
        Assert.Equal(0, files.Pending);
    }

    /// <summary>
    /// A segment is removed (retention deletes a rewrite whole) while a deferred delete is deleting the file it replaced:
    /// DeleteChain leaves the chain to that delete and the removed segment is retired behind it, and its own attempt
    /// finds the older file still there and waits. When the deferred delete then succeeds, the file that waited on it
    /// must go too (nothing else may ever run the deferred deletes again: an idle store kept it until the next query or
    /// restart).
    /// </summary>
    [Fact]
    public async Task AFileWaitingOnADeleteInProgressIsDeletedWhenThatDeleteSucceeds()
    {
        using var dir = new TempDir();
        var (files, _, _) = Setup();
        var original = Segment(dir.Path, 1);
        var rewrite = Segment(dir.Path, 2, replaces: 1);
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        files.DeleteFile = path =>
        {
            if (path == original.Path) { entered.Set(); release.Wait(TimeSpan.FromSeconds(30)); }
            PartitionDirectories.DeleteSegmentFile(path);
        };
        var query = files.BeginRead();
        files.Retire(original); // kept for the query
        var deferred = Task.Run(query.Dispose); // the query ends: the deferred delete of the original starts ...
        Assert.True(entered.Wait(TimeSpan.FromSeconds(30))); // ... and is under way

        Assert.False(files.DeleteChain(1)); // retention removes the rewrite: the chain is being deleted elsewhere
        files.Retire(rewrite);              // so the rewrite waits behind it (it names the original)
        Assert.True(File.Exists(rewrite.Path));

        release.Set();
        await deferred;
        Assert.False(File.Exists(original.Path));
        Assert.False(File.Exists(rewrite.Path));
        Assert.Equal(0, files.Pending);
    }

    /// <summary>
    /// Retention deletes a rewritten segment whole while the file it replaced is kept for a query, and deleting that
    /// kept file fails: the rewritten segment must stay on disk behind it (it names the kept file), so a crash now
    /// reopens without the kept file's rows twice; the retry after the query ends deletes both, oldest first.
    /// </summary>
    [Fact]
    public async Task ARemovedSegmentWaitsBehindTheFailedDeleteOfTheFileItReplaced()
    {
        using var dir = new TempDir();
        using var crashed = new TempDir();
        var model = QueryTests.Model();
        var log = new List<string>();
        var options = Options(dir.Path) with
        {
            RowGroupRows = 100, Clock = new FixedClock(QuerySpec.FromNs(Base + 10 * Minute)), Log = (_, m) => { lock (log) log.Add(m); },
        };
        await using var engine = TrafficStoreEngine.Open(options);
        engine.RegisterTable(QueryTests.ConnSpec);
        var disk = new FlakyDisk();
        engine.ReplacedFiles.DeleteFile = disk.Delete;
        await BulkLoad(engine, model); // one packed file, minutes 0..5
        string original = Assert.Single(SegmentFiles(dir.Path));

        await using var running = engine.QueryAsync(new QuerySpec("conns") { MaxBatchRows = 100 }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // holds the original
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
        await engine.ApplyRetentionAsync(); // rewritten to minutes 2..5; the original kept for the query
        string rewrite = SegmentFiles(dir.Path).Single(p => p != original);
        disk.FailOnce.Add(original);
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(3)) });
        var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions); // every row is due now: the rewrite goes whole
        Assert.Equal(RetentionActionKind.DeletedSegment, action.Kind);
        Assert.True(File.Exists(original));
        Assert.True(File.Exists(rewrite)); // names the original: waits behind it
        Assert.Equal(1L, engine.GetStats().FailedSegmentDeletes);

        CopyStoreImage(dir.Path, crashed.Path, withIndex: false); // a crash now
        await using (var reopened = TrafficStoreEngine.Open(options with { Directory = crashed.Path, Log = null }))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            var times = (await Rows(reopened, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!).ToList();
            // The rewrite is served again (its rows are due; the next retention run deletes it), the original it names is
            // deleted by open: no row twice.
            Assert.Equal(model.Where(r => r.Time >= Base + 2 * Minute).Select(r => r.Time), times);
        }

        while (await running.MoveNextAsync()) { }
        await running.DisposeAsync();
        Assert.False(File.Exists(original));
        Assert.False(File.Exists(rewrite));
        Assert.Equal(0, engine.GetStats().PendingSegmentDeletes);
        Assert.Contains(log, m => m.Contains("Could not delete") && m.Contains(original));
    }
}
