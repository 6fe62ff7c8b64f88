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

    /// <summary>A wall clock (<see cref="Now"/>) and a monotonic one (<see cref="Elapsed"/>, the timestamps), set by hand.</summary>
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public TimeSpan Elapsed { get; set; }
        public override DateTimeOffset GetUtcNow() => Now;
        public override long GetTimestamp() => Elapsed.Ticks;
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        /// <summary>Time passes: both clocks move.</summary>
        public void Advance(TimeSpan by) { Now += by; Elapsed += by; }
    }

    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static TrafficStoreEngine OpenFeed(string dir, TimeProvider clock, int maxSources = 100_000, TimeSpan? maxIdle = null)
    {
        var engine = TrafficStoreEngine.Open(Options(dir) with
        {
            Clock = clock,
            MaxDeliverySources = maxSources,
            DeliveryMarkMaxIdle = maxIdle ?? TimeSpan.FromDays(30),
        });
        engine.RegisterTable(Spec);
        return engine;
    }

    [Fact]
    public async Task ANewSourcePastTheLimitIsRefused_StoringNothing_UntilAnIdleMarkExpires()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(T0);
        await using var engine = OpenFeed(dir.Path, clock, maxSources: 2, maxIdle: TimeSpan.FromDays(1));
        await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
        await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0));
        var refused = await Assert.ThrowsAsync<DeliverySourceLimitException>(async () =>
            await engine.AppendOnceAsync("feed", Feed(10, 5), new Delivery("agent-c", 1, 0)));
        Assert.Equal(("agent-c", 2), (refused.DeliverySource, refused.Limit));
        Assert.Equal(2, engine.DeliverySources);
        Assert.Null(engine.DeliveredUpTo("agent-c"));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), await StoredNumbers(engine));
        // Known sources go on: new batches and resends alike.
        Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(15, 5), new Delivery("agent-a", 2, 0))).Rows);
        Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0))).DuplicateRows);

        // agent-a keeps delivering, agent-b goes quiet for more than a day: its mark expires and makes room.
        clock.Advance(TimeSpan.FromHours(12));
        await engine.AppendOnceAsync("feed", Feed(20, 5), new Delivery("agent-a", 3, 0));
        clock.Advance(TimeSpan.FromHours(13));
        Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(10, 5), new Delivery("agent-c", 1, 0))).Rows);
        Assert.Null(engine.DeliveredUpTo("agent-b"));
        Assert.Equal(new DeliveryMark(3, 5), engine.DeliveredUpTo("agent-a"));
        Assert.Equal(1, engine.ExpiredDeliverySources);
        // agent-b is now a new source again, and the store is full.
        await Assert.ThrowsAsync<DeliverySourceLimitException>(async () =>
            await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0)));
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), await StoredNumbers(engine));
    }

    [Fact]
    public async Task ConcurrentNewSourcesNeverPassTheLimit()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { WalGroupCommitWindow = TimeSpan.FromMilliseconds(5), MaxDeliverySources = 5 });
        engine.RegisterTable(Spec);
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
        {
            try { return (await engine.AppendOnceAsync("feed", Feed(i * 10, 2), new Delivery($"agent-{i}", 1, 0))).Rows; }
            catch (DeliverySourceLimitException) { return -1; }
        })));
        Assert.Equal(5, outcomes.Count(r => r == 2));
        Assert.Equal(19, outcomes.Count(r => r == -1));
        Assert.Equal(5, engine.DeliverySources);
        Assert.Equal(10, (await StoredNumbers(engine)).Count);
    }

    [Fact]
    public async Task MarksExpireByTheStoresActiveTime_KeptThroughFlushesAndRestarts_DowntimeDoesNotCount()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(T0);
        await using (var engine = OpenFeed(dir.Path, clock))
        {
            await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
            await engine.FlushAsync();                     // agent-a's mark (seen at active day 0) is in the marks file only
            clock.Advance(TimeSpan.FromDays(10));
            await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0)); // only in the WAL, active day 10
        }
        // Down for 100 days: no agent could resend meanwhile, so no mark ages.
        clock.Advance(TimeSpan.FromDays(100));
        await using (var engine = OpenFeed(dir.Path, clock))
        {
            Assert.Equal(new DeliveryMark(1, 5), engine.DeliveredUpTo("agent-a"));
            Assert.Equal(new DeliveryMark(1, 5), engine.DeliveredUpTo("agent-b"));
            Assert.Equal(0, engine.ExpiredDeliverySources);
            clock.Advance(TimeSpan.FromDays(25));      // active day 35
            Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0))).DuplicateRows); // seen again
            await engine.FlushAsync();                 // agent-b idle 25 active days: kept
            Assert.NotNull(engine.DeliveredUpTo("agent-b"));
        }
        clock.Advance(TimeSpan.FromDays(365));
        await using (var engine = OpenFeed(dir.Path, clock))
        {
            Assert.NotNull(engine.DeliveredUpTo("agent-b"));
            clock.Advance(TimeSpan.FromDays(10));      // active day 45: agent-b idle 35 days, agent-a 10
            await engine.FlushAsync();
            Assert.Null(engine.DeliveredUpTo("agent-b"));
            Assert.Equal(new DeliveryMark(1, 5), engine.DeliveredUpTo("agent-a"));
            Assert.Equal(1, engine.ExpiredDeliverySources);
            // What expiry means: a batch resent after its source's mark expired is stored again.
            Assert.Equal(5, (await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0))).Rows);
        }
    }

    [Fact]
    public async Task AWallClockJump_ExpiresNoMark()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(T0);
        await using (var engine = OpenFeed(dir.Path, clock))
        {
            await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
            clock.Advance(TimeSpan.FromHours(1));
            // The wall clock jumps a year ahead (a bad RTC before NTP corrects it); monotonic time goes on as before.
            clock.Now += TimeSpan.FromDays(365);
            await engine.FlushAsync();
            Assert.Equal(new DeliveryMark(1, 5), engine.DeliveredUpTo("agent-a"));
            await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-b", 1, 0));
            clock.Now -= TimeSpan.FromDays(365);  // corrected
            clock.Advance(TimeSpan.FromHours(1));
            await engine.FlushAsync();
        }
        clock.Now += TimeSpan.FromDays(400);
        await using var reopened = OpenFeed(dir.Path, clock);
        Assert.Equal(new DeliveryMark(1, 5), reopened.DeliveredUpTo("agent-a"));
        Assert.Equal(new DeliveryMark(1, 5), reopened.DeliveredUpTo("agent-b"));
        Assert.Equal(0, reopened.ExpiredDeliverySources);
        Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0))).DuplicateRows);
    }

    [Fact]
    public async Task AMarksFileWithWallClockTimes_FromSession4_IsRead_EverySourceSeenAtOpen()
    {
        using var dir = new TempDir();
        var clock = new ManualClock(T0);
        await using (var engine = OpenFeed(dir.Path, clock)) { }
        // Version 1: magic "TSDM" | u8 1 | u32 count | (string source | i64 batch | i64 row end | i64 last seen, unix seconds) | u32 crc32c.
        var sink = new TrafficStore.Engine.Segments.ByteSink(64);
        sink.WriteUInt32(0x4D445354);
        sink.WriteByte(1);
        sink.WriteUInt32(1);
        sink.WriteString("agent-v1");
        sink.WriteInt64(4);
        sink.WriteInt64(2);
        sink.WriteInt64((T0 - TimeSpan.FromDays(300)).ToUnixTimeSeconds()); // long ago by the wall clock
        sink.WriteUInt32(TrafficStore.Engine.Segments.Crc32C.Compute(sink.WrittenSpan));
        File.WriteAllBytes(Path.Combine(dir.Path, "wal", "deliveries"), sink.ToArray());
        await using var reopened = OpenFeed(dir.Path, clock);
        Assert.Equal(new DeliveryMark(4, 2), reopened.DeliveredUpTo("agent-v1"));
        clock.Advance(TimeSpan.FromDays(29));
        await reopened.FlushAsync();
        Assert.Equal(new DeliveryMark(4, 2), reopened.DeliveredUpTo("agent-v1"));
        clock.Advance(TimeSpan.FromDays(2));
        await reopened.FlushAsync();
        Assert.Null(reopened.DeliveredUpTo("agent-v1"));
    }

    [Fact]
    public async Task AMarksFileWithoutLastSeenTimes_FromBeforeExpiry_IsRead()
    {
        using var dir = new TempDir();
        await using (var engine = OpenFeed(dir.Path)) { }
        // The 2026-11-26 layout: u32 count | (string source | i64 batch | i64 row end) | u32 crc32c.
        var sink = new TrafficStore.Engine.Segments.ByteSink(64);
        sink.WriteUInt32(1);
        sink.WriteString("agent-old");
        sink.WriteInt64(9);
        sink.WriteInt64(3);
        sink.WriteUInt32(TrafficStore.Engine.Segments.Crc32C.Compute(sink.WrittenSpan));
        File.WriteAllBytes(Path.Combine(dir.Path, "wal", "deliveries"), sink.ToArray());
        await using var reopened = OpenFeed(dir.Path);
        Assert.Equal(new DeliveryMark(9, 3), reopened.DeliveredUpTo("agent-old"));
        Assert.Equal(3, (await reopened.AppendOnceAsync("feed", Feed(0, 3), new Delivery("agent-old", 9, 0))).DuplicateRows);
    }

    /// <summary>
    /// Crash image: a flush sealed its segments, then the process died before the marks file and the checkpoint were
    /// written; afterwards the checkpoint file was lost (removed after it was found damaged) and the WAL's last record
    /// damaged. The kept segments then hold rows whose marks only the surviving WAL record (and no marks file) shows.
    /// </summary>
    [Fact]
    public async Task MarksComeFromEveryDurableSource_WhenTheCheckpointIsLostAndSegmentsAreKept()
    {
        using var dir = new TempDir();
        var crashed = dir.Path + "-crashed";
        try
        {
            await using (var engine = OpenFeed(dir.Path))
            {
                await engine.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0));
                await engine.FlushAsync();                                  // rows 0-4 only in a segment now
                await engine.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0));
                await engine.AppendAsync("feed", Feed(10, 5));              // the WAL's last record
                CopyStoreImage(dir.Path, crashed);                          // marks file: agent-a at batch 1
                await engine.FlushAsync();
                CopyStoreImage(Path.Combine(dir.Path, "segments"), Path.Combine(crashed, "segments"));
            }
            File.Delete(Path.Combine(crashed, "wal", "checkpoint"));
            var wal = Directory.GetFiles(Path.Combine(crashed, "wal"), "*.wal").Single(f => new FileInfo(f).Length > 0);
            var bytes = File.ReadAllBytes(wal);
            bytes[^1] ^= 0x5a;
            File.WriteAllBytes(wal, bytes);

            await using var reopened = OpenFeed(crashed);
            // Every row once: the first segment (whose WAL records are long gone) is kept, not taken for an unfinished flush.
            Assert.Equal(Enumerable.Range(0, 15).Select(i => (long)i), await StoredNumbers(reopened));
            Assert.Equal(new DeliveryMark(2, 5), reopened.DeliveredUpTo("agent-a"));
            Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(5, 5), new Delivery("agent-a", 2, 0))).DuplicateRows);
            Assert.Equal(5, (await reopened.AppendOnceAsync("feed", Feed(0, 5), new Delivery("agent-a", 1, 0))).DuplicateRows);
            Assert.Equal(Enumerable.Range(0, 15).Select(i => (long)i), await StoredNumbers(reopened));
        }
        finally { if (Directory.Exists(crashed)) Directory.Delete(crashed, true); }
    }

    [Fact]
    public async Task ALostCheckpointWithLaterWalRecordsKeepsTheSegmentsWhoseRecordsAreGone()
    {
        using var dir = new TempDir();
        var crashed = dir.Path + "-crashed";
        try
        {
            await using (var engine = OpenFeed(dir.Path))
            {
                await engine.AppendAsync("feed", Feed(0, 5));
                await engine.FlushAsync();                    // its WAL file deleted: the segment is the only copy
                await engine.AppendAsync("feed", Feed(5, 5)); // only in the WAL
                CopyStoreImage(dir.Path, crashed);            // a crash now (a clean close would seal it too)
            }
            File.Delete(Path.Combine(crashed, "wal", "checkpoint"));
            await using var reopened = OpenFeed(crashed);
            Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), await StoredNumbers(reopened));
        }
        finally { if (Directory.Exists(crashed)) Directory.Delete(crashed, true); }
    }

    /// <summary>
    /// A save copies the marks under their lock and sorts, serialises and writes outside it: the WAL's durability
    /// callback (<c>Raise</c>) runs meanwhile instead of waiting for up to 100k marks to be written. What it raises
    /// after the copy goes into the next save.
    /// </summary>
    [Fact]
    public void ARaiseDuringASave_DoesNotWaitForIt_AndGoesIntoTheNextSave()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "deliveries");
        var marks = new TrafficStore.Engine.Wal.DeliveryMarks();
        for (int i = 0; i < 1000; i++) marks.Raise($"agent-{i}", new DeliveryMark(1, 1));
        bool raisedDuringSave = false;
        marks.Serialising = () =>
            raisedDuringSave = Task.Run(() => marks.Raise("agent-late", new DeliveryMark(2, 2))).Wait(TimeSpan.FromSeconds(30));
        marks.SaveIfChanged(path, TimeSpan.Zero);
        marks.Serialising = null;
        Assert.True(raisedDuringSave, "Raise waited for the save");
        var saved = TrafficStore.Engine.Wal.DeliveryMarks.Load(path, TimeProvider.System);
        Assert.Equal(1000, saved.Count);
        Assert.Null(saved.Get("agent-late"));
        marks.SaveIfChanged(path, TimeSpan.Zero);
        Assert.Equal(new DeliveryMark(2, 2), TrafficStore.Engine.Wal.DeliveryMarks.Load(path, TimeProvider.System).Get("agent-late"));
    }
}
