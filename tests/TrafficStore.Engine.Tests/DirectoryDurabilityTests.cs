using System.Collections.Concurrent;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.PackedSegmentTests;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// A new directory is an entry in its parent, and only an fsync of the parent makes that entry survive a power loss.
/// Each test records which directories the engine fsyncs while it writes something that is then depended on (a flush
/// deletes the WAL behind its checkpoint, a rewrite deletes the original, an append and a bulk load acknowledge), and
/// reopens the image a power loss right after could leave: every directory created meanwhile whose parent was never
/// fsync'd is gone, with all it held. Nothing acknowledged or kept may be lost.
/// </summary>
public class DirectoryDurabilityTests
{
    /// <summary>Records directory fsyncs under one store from construction on, and builds a power-loss image.</summary>
    private sealed class PowerLoss : IDisposable
    {
        private readonly string _root;
        private readonly HashSet<string> _before;
        private readonly ConcurrentBag<string> _synced = [];

        public PowerLoss(string root)
        {
            _root = Normalize(root);
            _before = Directories(_root);
            DirectorySync.Syncing += OnSync;
        }

        private static string Normalize(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

        private static HashSet<string> Directories(string root) =>
            !Directory.Exists(root) ? [] : Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories).Select(Normalize).Append(root).ToHashSet(StringComparer.Ordinal);

        private void OnSync(string directory) => _synced.Add(Normalize(directory));

        /// <summary>Directories created since construction whose parent was not fsync'd since.</summary>
        public List<string> Unsynced() =>
            Directories(_root).Where(d => !_before.Contains(d) && !_synced.Contains(Path.GetDirectoryName(d)!)).Order(StringComparer.Ordinal).ToList();

        /// <summary>Copies the store to <paramref name="to"/> as a power loss now could leave it (the process dies too: no LOCK).</summary>
        public void Image(string to)
        {
            var lost = Unsynced();
            if (lost.Contains(_root)) return; // the store folder itself: nothing survives
            CopyStoreImage(_root, to, withIndex: false);
            foreach (var d in lost)
            {
                var copy = Path.Combine(to, Path.GetRelativePath(_root, d));
                if (Directory.Exists(copy)) Directory.Delete(copy, recursive: true);
            }
        }

        public void Dispose() => DirectorySync.Syncing -= OnSync;
    }

    private static async Task<List<long>> Times(TrafficStoreEngine engine) =>
        (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!).ToList();

    [Fact]
    public async Task ARetentionRewriteIntoANewPartitionFolderSurvivesPowerLoss()
    {
        using var dir = new TempDir();
        using var image = new TempDir();
        var model = QueryTests.Model(); // minutes 0..5
        var options = Options(dir.Path) with { RowGroupRows = 100, Clock = new FixedClock(QuerySpec.FromNs(Base + 10 * Minute)) };
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, model); // one packed segment in minute 0's folder
            await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
            string original = Assert.Single(SegmentFiles(dir.Path));

            using var power = new PowerLoss(dir.Path);
            Assert.Equal(RetentionActionKind.RewroteSegment, Assert.Single((await engine.ApplyRetentionAsync()).Actions).Kind);
            Assert.False(File.Exists(original)); // the rewrite's caller deleted the original: the replacement is all there is
            Assert.NotEqual(Path.GetDirectoryName(original), Path.GetDirectoryName(Assert.Single(SegmentFiles(dir.Path))));
            Assert.Empty(power.Unsynced());
            power.Image(image.Path);
        }
        await using var reopened = TrafficStoreEngine.Open(Options(image.Path) with { Clock = options.Clock });
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(model.Where(r => r.Time >= Base + 2 * Minute).Select(r => r.Time).Order(), await Times(reopened));
    }

    [Fact]
    public async Task AFlushIntoNewTableAndPartitionFoldersSurvivesPowerLoss()
    {
        using var dir = new TempDir();
        using var image = new TempDir();
        var model = QueryTests.Model(count: 600); // minutes 0 and 1
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            using var power = new PowerLoss(dir.Path);
            await engine.AppendAsync("conns", QueryTests.ToBatch(model));
            await engine.FlushAsync(); // the checkpoint commits the segments; the WAL files holding the rows are deleted
            Assert.Equal(2, SegmentFiles(dir.Path).Count);
            Assert.Empty(power.Unsynced());
            power.Image(image.Path);
        }
        await using var reopened = TrafficStoreEngine.Open(Options(image.Path));
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(model.Select(r => r.Time).Order(), await Times(reopened));
    }

    [Fact]
    public async Task ABulkLoadIntoANewTableSurvivesPowerLoss()
    {
        using var dir = new TempDir();
        using var image = new TempDir();
        var model = QueryTests.Model(count: 600);
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            using var power = new PowerLoss(dir.Path);
            await BulkLoad(engine, model); // acknowledged when it returns
            Assert.Empty(power.Unsynced());
            power.Image(image.Path);
        }
        await using var reopened = TrafficStoreEngine.Open(Options(image.Path));
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(model.Select(r => r.Time).Order(), await Times(reopened));
    }

    [Fact]
    public async Task AnAppendToANewStoreSurvivesPowerLoss()
    {
        using var parent = new TempDir();
        using var image = new TempDir();
        string root = Path.Combine(parent.Path, "store"); // the engine creates the store folder, wal/ and segments/
        var model = QueryTests.Model(count: 100);
        using var power = new PowerLoss(root);
        await using (var engine = TrafficStoreEngine.Open(Options(root)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(model)); // acknowledged: in the fsync'd WAL
            Assert.Empty(power.Unsynced());
            power.Image(image.Path);
        }
        await using var reopened = TrafficStoreEngine.Open(Options(image.Path));
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(model.Select(r => r.Time).Order(), await Times(reopened));
    }
}
