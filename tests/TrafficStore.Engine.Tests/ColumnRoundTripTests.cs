using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

public class ColumnRoundTripTests
{
    private static readonly Schema AllTypes = Schema(
        ("time", Ts), ("i", Int64Type.Default), ("d", DoubleType.Default), ("s", StringType.Default),
        ("b", BooleanType.Default), ("dur", DurationType.Nanosecond), ("bin", BinaryType.Default));

    private static RecordBatch Sample()
    {
        var large = new byte[3 << 20];
        new Random(7).NextBytes(large);
        return Batch(AllTypes,
            Timestamps(Base + 1, Base + 2, Base + 3, Base + 4, Base + 5),
            Int64(long.MinValue, null, 0, -1, long.MaxValue),
            Doubles(1.5, double.NaN, null, double.NegativeInfinity, -0.25),
            Strings("", null, "héllo wörld ✓", "", new string('x', 300)),
            Bools(true, false, null, true, false),
            Durations(null, 0, 1, long.MaxValue, -5),
            Binaries([], null, large, [0, 1, 2, 255], null));
    }

    private static void AssertSame(RecordBatch expected, List<Dictionary<string, object?>> rows)
    {
        Assert.Equal(expected.Length, rows.Count);
        for (int c = 0; c < expected.ColumnCount; c++)
        {
            var name = expected.Schema.FieldsList[c].Name;
            for (int r = 0; r < expected.Length; r++)
                Assert.Equal(Cell(expected.Column(c), r), rows[r][name]);
        }
    }

    [Fact]
    public async Task EveryColumnTypeRoundTripsUnsealedSealedAndAfterReopen()
    {
        using var dir = new TempDir();
        var sample = Sample();
        var q = new QuerySpec("t") { OrderByTime = true };
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(new TableSpec("t", AllTypes, "time"));
            await engine.AppendAsync("t", sample);
            AssertSame(sample, await Rows(engine, q));          // unsealed
            await engine.FlushAsync();
            Assert.Equal(0, engine.GetStats().Tables["t"].UnsealedRows);
            AssertSame(sample, await Rows(engine, q));          // sealed
        }
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            AssertSame(sample, await Rows(engine, q));          // reopened
            var schema = engine.QuerySchema(q);
            Assert.Equal(AllTypes.FieldsList.Select(f => f.DataType.TypeId), schema.FieldsList.Select(f => f.DataType.TypeId));
            Assert.Equal("UTC", ((TimestampType)schema.GetFieldByName("time").DataType).Timezone);
        }
    }

    [Fact]
    public async Task AcknowledgedRowsSurviveReopenWithoutFlushThroughWalReplay()
    {
        using var dir = new TempDir();
        var sample = Sample();
        var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(new TableSpec("t", AllTypes, "time"));
        await engine.AppendAsync("t", sample);
        // Simulate a crash: copy the directory while the engine is still open (nothing flushed).
        var copy = Path.Combine(dir.Path, "..", Path.GetFileName(dir.Path) + "-copy");
        CopyStoreImage(dir.Path, copy);
        await engine.DisposeAsync();
        try
        {
            await using var reopened = TrafficStoreEngine.Open(Options(copy));
            AssertSame(sample, await Rows(reopened, new QuerySpec("t") { OrderByTime = true }));
            Assert.Contains(reopened.Health.RecoveryNotes, n => n.Contains("Replayed 1 WAL records"));
        }
        finally { Directory.Delete(copy, true); }
    }

    [Fact]
    public async Task SchemaEvolutionAddsColumnsAndOldRowsReadNull()
    {
        using var dir = new TempDir();
        var v1 = Schema(("time", Ts), ("a", Int64Type.Default));
        var v2 = Schema(("time", Ts), ("a", Int64Type.Default), ("b", StringType.Default));
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            Assert.Equal(1, engine.RegisterTable(new TableSpec("t", v1, "time")));
            await engine.AppendAsync("t", Batch(v1, Timestamps(Base), Int64(1)));
            await engine.FlushAsync();
            Assert.Equal(2, engine.RegisterTable(new TableSpec("t", v2, "time")));
            await engine.AppendAsync("t", Batch(v2, Timestamps(Base + 1), Int64(2), Strings("new")));
            Assert.Throws<InvalidOperationException>(() => engine.RegisterTable(new TableSpec("t", Schema(("time", Ts), ("a", StringType.Default)), "time")));
            Assert.Throws<ArgumentException>(() => engine.RegisterTable(new TableSpec("x", v1, "a"))); // time column must be a timestamp
        }
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            var rows = await Rows(engine, new QuerySpec("t") { OrderByTime = true });
            Assert.Equal([null, "new"], rows.Select(r => r["b"]));
            Assert.Equal([1L, 2L], rows.Select(r => r["a"]));
            Assert.Equal(2, engine.GetStats().Tables["t"].SchemaVersion);
        }
    }

    [Fact]
    public async Task LargeRowsComeBackInBatchesThatFitAGrpcMessage()
    {
        using var dir = new TempDir();
        var schema = Schema(("time", Ts), ("bin", BinaryType.Default));
        var rng = new Random(9);
        var blobs = Enumerable.Range(0, 20).Select(i => { var b = new byte[i == 7 ? 5 << 20 : 1 << 20]; rng.NextBytes(b); return b; }).ToArray();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(new TableSpec("blobs", schema, "time"));
        await engine.AppendAsync("blobs", Batch(schema, Timestamps(Enumerable.Range(0, 20).Select(i => (long?)(Base + i)).ToArray()), Binaries(blobs)));
        foreach (bool flushed in new[] { false, true })
        {
            if (flushed) await engine.FlushAsync();
            var sizes = new List<int>();
            var seen = new List<string>();
            await foreach (var batch in engine.QueryAsync(new QuerySpec("blobs") { OrderByTime = true }))
            {
                var bin = (BinaryArray)batch.Column(1);
                long bytes = Enumerable.Range(0, batch.Length).Sum(i => (long)bin.GetBytes(i).Length);
                Assert.True(batch.Length == 1 || bytes <= 3L << 20, $"{batch.Length} rows, {bytes} bytes in one batch");
                sizes.Add(batch.Length);
                for (int i = 0; i < batch.Length; i++) seen.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bin.GetBytes(i))));
            }
            Assert.Equal(blobs.Select(b => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(b))), seen);
            Assert.True(sizes.Count >= 8);
        }
    }
}
