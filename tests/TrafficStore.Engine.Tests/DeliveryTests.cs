using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Exactly-once appends (<see cref="TrafficStoreEngine.AppendOnceAsync"/>): a producer that resends a batch
/// whose acknowledgement it lost gets its rows stored once, across slices of the batch, concurrent resends,
/// a crash after the WAL fsync and a flush that deletes the WAL. Plain appends keep storing every copy.
/// </summary>
public class DeliveryTests
{
    private static readonly Schema FeedSchema = Schema(("time", Ts), ("n", Int64Type.Default));
    private static TableSpec Spec => new("feed", FeedSchema, "time");

    /// <summary>Rows numbered <paramref name="first"/> .. first + count - 1 (the n column).</summary>
    private static RecordBatch Feed(int first, int count) =>
        Batch(FeedSchema, Timestamps(Enumerable.Range(first, count).Select(i => (long?)(Base + i)).ToArray()),
            Int64(Enumerable.Range(first, count).Select(i => (long?)i).ToArray()));

    private static async Task<List<long>> StoredNumbers(TrafficStoreEngine engine) =>
        (await Rows(engine, new QuerySpec("feed"))).Select(r => (long)r["n"]!).Order().ToList();

    private static TrafficStoreEngine OpenFeed(string dir)
    {
        var engine = TrafficStoreEngine.Open(Options(dir));
        engine.RegisterTable(Spec);
        return engine;
    }

    [Fact]
    public async Task ABatchSentAgainIsStoredOnce_WhilePlainAppendsStoreEveryCopy()
    {
        using var dir = new TempDir();
        await using var engine = OpenFeed(dir.Path);
        var first = await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
        Assert.Equal((5, 0), (first.Rows, first.DuplicateRows));
        var again = await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
        Assert.Equal((0, 5), (again.Rows, again.DuplicateRows));
        await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0));
        // An older batch than the mark is stored already; another source has marks of its own.
        Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0))).DuplicateRows);
        Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(10, 5), new Delivery("agent-b", 1, 0))).Rows);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => (long)i), await StoredNumbers(engine));
        Assert.Equal(new DeliveryMark(2, 5), engine.DeliveredUpTo("agent-a"));

        // Without a delivery, a batch sent twice is stored twice (stock Flight clients, old agents).
        await engine.AppendAsync("feed", Feed(100, 2));
        await engine.AppendAsync("feed", Feed(100, 2));
        Assert.Equal([100, 100, 101, 101], (await StoredNumbers(engine)).Where(n => n >= 100));
    }

    [Fact]
    public async Task SlicesOfABatch_AndAResendCutDifferently_StoreEachRowOnce()
    {
        using var dir = new TempDir();
        await using var engine = OpenFeed(dir.Path);
        var batch = Feed(0, 10);
        // Rows 0..3 arrived as a slice; the connection dropped; the whole batch comes again in one message.
        await engine.AppendOnceAsync("feed", batch.Slice(0, 4), new Delivery("agent-a", 7, 0));
        var whole = await engine.AppendOnceAsync("feed", batch, new Delivery("agent-a", 7, 0));
        Assert.Equal((6, 4), (whole.Rows, whole.DuplicateRows));
        Assert.Equal(2, (await engine.AppendOnceAsync("feed", batch.Slice(8, 2), new Delivery("agent-a", 7, 8))).DuplicateRows);
        // A gap (rows the producer skipped) is no duplicate.
        Assert.Equal(3, (await engine.AppendOnceAsync("feed", Feed(12, 3), new Delivery("agent-a", 7, 12))).Rows);
        Assert.Equal(Enumerable.Range(0, 10).Concat(Enumerable.Range(12, 3)).Select(i => (long)i), await StoredNumbers(engine));
    }

    [Fact]
    public async Task ConcurrentResendsOfOneBatchStoreItOnce()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { WalGroupCommitWindow = TimeSpan.FromMilliseconds(5) });
        engine.RegisterTable(Spec);
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            Task.Run(async () => await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 3, 0)))));
        Assert.Equal(5, results.Sum(r => r.Rows));
        Assert.Equal(35, results.Sum(r => r.DuplicateRows));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), await StoredNumbers(engine));
    }

    [Fact]
    public async Task MarksSurviveACrashAfterTheWalFsync_AndAFlushThatDeletesTheWal()
    {
        using var dir = new TempDir();
        var crashed = dir.Path + "-crashed";
        try
        {
            await using (var engine = OpenFeed(dir.Path))
            {
                await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
                await engine.AppendOnceAsync("feed", Feed(20, 2), new Delivery("agent-b", 4, 0));   // agent-b's only batch
                await engine.FlushAsync();                       // sealed: the WAL file with the mark is deleted
                Assert.DoesNotContain(Directory.GetFiles(Path.Combine(dir.Path, "wal"), "*.wal"), f => new FileInfo(f).Length > 0);
                await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0));
                // The crash image: batch 2 only in the fsync'd WAL, batch 1 only in segments and the marks file.
                CopyStoreImage(dir.Path, crashed);
            }
            await using var reopened = OpenFeed(crashed);
            Assert.Equal(new DeliveryMark(2, 5), reopened.DeliveredUpTo("agent-a"));
            Assert.Equal(new DeliveryMark(4, 2), reopened.DeliveredUpTo("agent-b"));
            Assert.Equal(2, (await reopened.AppendOnceAsync("feed", Feed(20, 2), new Delivery("agent-b", 4, 0))).DuplicateRows);
            Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0))).DuplicateRows);
            Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0))).DuplicateRows);
            Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(10, 5), new Delivery("agent-a", 3, 0))).Rows);
            Assert.Equal(Enumerable.Range(0, 15).Concat([20, 21]).Select(i => (long)i), await StoredNumbers(reopened));
        }
        finally { if (Directory.Exists(crashed)) Directory.Delete(crashed, true); }
    }

    [Fact]
    public async Task ADamagedMarksFileIsRefused()
    {
        using var dir = new TempDir();
        await using (var engine = OpenFeed(dir.Path))
            await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
        var marks = Path.Combine(dir.Path, "wal", "deliveries");
        var bytes = File.ReadAllBytes(marks);
        bytes[6] ^= 0x40;
        File.WriteAllBytes(marks, bytes);
        var e = Assert.Throws<InvalidDataException>(() => TrafficStoreEngine.Open(Options(dir.Path)));
        Assert.Contains("Delivery marks", e.Message);
    }
}
