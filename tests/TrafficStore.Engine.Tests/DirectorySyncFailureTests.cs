using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// A directory fsync that fails (or a directory that cannot be opened for it) is an I/O error of the operation that
/// needed it: the rename or new file it was to make durable is not acknowledged, and nothing is deleted on its strength.
/// Failures are injected per directory through <see cref="DirectorySync.InjectedErrors"/> (EIO).
/// </summary>
public class DirectorySyncFailureTests
{
    private const int Eio = 5;
    private static readonly Schema FeedSchema = Schema(("time", Ts), ("n", Int64Type.Default));

    private static RecordBatch Feed(int first, int count) =>
        Batch(FeedSchema, Timestamps(Enumerable.Range(first, count).Select(i => (long?)(Base + i)).ToArray()),
            Int64(Enumerable.Range(first, count).Select(i => (long?)i).ToArray()));

    private static TrafficStoreEngine OpenFeed(string dir)
    {
        var engine = TrafficStoreEngine.Open(Options(dir));
        engine.RegisterTable(new TableSpec("feed", FeedSchema, "time"));
        return engine;
    }

    private static async Task<List<long>> StoredNumbers(TrafficStoreEngine engine) =>
        (await Rows(engine, new QuerySpec("feed"))).Select(r => (long)r["n"]!).Order().ToList();

    private sealed class Injected : IDisposable
    {
        private readonly string _key;
        public Injected(string directory)
        {
            _key = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
            DirectorySync.InjectedErrors[_key] = Eio;
        }
        public void Dispose() => DirectorySync.InjectedErrors.TryRemove(_key, out _);
    }

    [Fact]
    public void ADirectoryThatCannotBeOpened_IsAnIOError_NotASkippedSync()
    {
        using var dir = new TempDir();
        var missing = Path.Combine(dir.Path, "gone");
        var e = Assert.ThrowsAny<IOException>(() => DirectorySync.Fsync(missing));
        Assert.Contains(missing, e.Message);
        DirectorySync.Fsync(dir.Path); // an existing directory syncs
    }

    [Fact]
    public void AFailedFsyncOfTheDirectory_FailsADurableReplace()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "settings");
        using (new Injected(dir.Path))
            Assert.ThrowsAny<IOException>(() => DurableFile.Replace(path, "x"));
        DurableFile.Replace(path, "y");
        Assert.Equal("y", File.ReadAllText(path));
    }

    [Fact]
    public async Task AFlushWhoseWalDirectoryFsyncFails_FailsAndKeepsTheWal_NothingIsLost()
    {
        using var dir = new TempDir();
        var wal = Path.Combine(dir.Path, "wal");
        var engine = OpenFeed(dir.Path);
        await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
        var walFiles = Directory.GetFiles(wal, "*.wal").Order().ToList();
        using (new Injected(wal))
            await Assert.ThrowsAnyAsync<IOException>(() => engine.FlushAsync());
        // The WAL that holds the acknowledged rows was not deleted on the strength of an undurable rename.
        Assert.All(walFiles, f => Assert.True(File.Exists(f), f));
        // The log is faulted (as after a failed file fsync): further appends fail, closing reports it and still closes.
        await Assert.ThrowsAnyAsync<IOException>(async () => await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0)));
        await Assert.ThrowsAnyAsync<IOException>(async () => await engine.DisposeAsync());
        await using var reopened = OpenFeed(dir.Path);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), await StoredNumbers(reopened));
        Assert.Equal(new DeliveryMark(1, 5), reopened.DeliveredUpTo("agent-a"));
    }

    [Fact]
    public async Task ASegmentDirectoryFsyncFailure_FailsTheFlush_AndALaterFlushSeals()
    {
        using var dir = new TempDir();
        await using (var engine = OpenFeed(dir.Path))
        {
            await engine.AppendAsync("feed", Feed(0, 5));
            var feedDir = Path.Combine(dir.Path, "segments", "feed");
            // The flush creates partition folders under segments/feed (its parent fsync fails) or writes into them.
            Directory.CreateDirectory(feedDir);
            using (new Injected(feedDir))
                await Assert.ThrowsAnyAsync<IOException>(() => engine.FlushAsync());
            Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), await StoredNumbers(engine));
        }
        await using var reopened = OpenFeed(dir.Path);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), await StoredNumbers(reopened));
    }

    [Fact]
    public async Task ABulkLoadWhoseCommitRecordIsNotDurable_FailsAndLeavesNothing_ThenLoadsOnce()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(QueryTests.ConnSpec);
        using (new Injected(Path.Combine(dir.Path, "wal")))
            await Assert.ThrowsAnyAsync<IOException>(() => PackedSegmentTests.BulkLoad(engine, model));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "segments"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(dir.Path, "wal"), "*.bulk"));
        Assert.Empty(await Rows(engine, new QuerySpec("conns")));
        await PackedSegmentTests.BulkLoad(engine, model);
        Assert.Equal(model.Count, (await Rows(engine, new QuerySpec("conns"))).Count);
    }
}
