using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// The child side of the crash test: opens a store, then 4 tasks append batches forever while the
/// background task seals them every 50 ms. Before each append it prints <c>SEND id rows</c>, after the
/// acknowledgement <c>ACK id rows seq</c>; the parent kills it with SIGKILL at a random moment.
/// </summary>
internal static class CrashWriter
{
    public static readonly Schema CrashSchema = Schema(
        ("time", Ts), ("batch_id", Int64Type.Default), ("row", Int64Type.Default), ("label", StringType.Default), ("payload", BinaryType.Default));

    public static TableSpec Spec => new("crash", CrashSchema, "time") { IndexedColumns = ["label", "batch_id"] };

    public static StoreOptions ChildOptions(string dir) => new(dir)
    {
        PartitionDuration = TimeSpan.FromSeconds(10),
        FlushInterval = TimeSpan.FromMilliseconds(50),
        RetentionInterval = null,
        RowGroupRows = 64,
        MaxSegmentBytes = 16 << 10, // small: flushes write several segments per partition
    };

    /// <summary>
    /// The bulk-load variant: one task adds batches to a <see cref="BulkLoad"/> (small seal units, so
    /// units of several segments and partitions are committed all the time) and prints <c>ACK</c> for
    /// every batch a durable seal covers, while one task appends through the WAL as above.
    /// </summary>
    public static async Task<int> RunBulkAsync(string dir, int trial)
    {
        await using var engine = TrafficStoreEngine.Open(ChildOptions(dir));
        engine.RegisterTable(Spec);
        var output = Console.Out;
        var gate = new object();
        var numbered = new Queue<(long Number, long Id, int Rows)>();
        long durableUpTo = 0;
        void AckDurable() // under gate
        {
            while (numbered.Count > 0 && numbered.Peek().Number <= durableUpTo)
            {
                var (_, id, rows) = numbered.Dequeue();
                output.WriteLine($"ACK {id} {rows} 0");
            }
        }
        await using var bulk = engine.BeginBulkLoad(new BulkLoadOptions
        {
            SealBytes = 48 << 10,
            Sealed = s =>
            {
                lock (gate)
                {
                    durableUpTo = Math.Max(durableUpTo, s.UpToBatch);
                    AckDurable();
                }
            },
        });
        lock (gate) output.WriteLine("READY");
        long next = trial * 1_000_000L;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var adder = Task.Run(async () =>
        {
            var rng = new Random(trial * 37);
            while (DateTime.UtcNow < deadline)
            {
                long id = Interlocked.Increment(ref next);
                var batch = RandomBatch(rng, id, "b");
                lock (gate) output.WriteLine($"SEND {id} {batch.Length}");
                long number = await bulk.AddAsync("crash", batch);
                // The seal covering this batch may already have been reported while AddAsync waited.
                lock (gate)
                {
                    numbered.Enqueue((number, id, batch.Length));
                    AckDurable();
                }
            }
        });
        var appender = Task.Run(async () =>
        {
            var rng = new Random(trial * 41);
            while (DateTime.UtcNow < deadline)
            {
                long id = Interlocked.Increment(ref next);
                var batch = RandomBatch(rng, id, "w");
                lock (gate) output.WriteLine($"SEND {id} {batch.Length}");
                var ack = await engine.AppendAsync("crash", batch);
                lock (gate) output.WriteLine($"ACK {id} {batch.Length} {ack.Sequence}");
            }
        });
        await Task.WhenAll(adder, appender);
        await bulk.CompleteAsync();
        lock (gate) { durableUpTo = long.MaxValue; AckDurable(); }
        return 0;
    }

    private static RecordBatch RandomBatch(Random rng, long id, string prefix)
    {
        int rows = rng.Next(1, 120);
        var payload = new byte[rng.Next(0, 600)];
        rng.NextBytes(payload);
        return Batch(CrashSchema,
            Timestamps(Enumerable.Range(0, rows).Select(r => (long?)(Base + (id % 97) * Second + r * 1_000_000L)).ToArray()),
            Int64(Enumerable.Repeat((long?)id, rows).ToArray()),
            Int64(Enumerable.Range(0, rows).Select(r => (long?)r).ToArray()),
            Strings(Enumerable.Range(0, rows).Select(r => $"{prefix}-{r % 5}").ToArray()),
            Binaries(Enumerable.Range(0, rows).Select(r => r % 3 == 0 ? payload : null).ToArray()));
    }

    public static async Task<int> RunAsync(string dir, int trial)
    {
        await using var engine = TrafficStoreEngine.Open(ChildOptions(dir));
        engine.RegisterTable(Spec);
        var output = Console.Out;
        var gate = new object();
        lock (gate) output.WriteLine("READY");
        long next = trial * 1_000_000L;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var rng = new Random(trial * 31 + w);
            while (DateTime.UtcNow < deadline)
            {
                long id = Interlocked.Increment(ref next);
                int rows = rng.Next(1, 120);
                var payload = new byte[rng.Next(0, 600)];
                rng.NextBytes(payload);
                var batch = Batch(CrashSchema,
                    Timestamps(Enumerable.Range(0, rows).Select(r => (long?)(Base + (id % 97) * Second + r * 1_000_000L)).ToArray()),
                    Int64(Enumerable.Repeat((long?)id, rows).ToArray()),
                    Int64(Enumerable.Range(0, rows).Select(r => (long?)r).ToArray()),
                    Strings(Enumerable.Range(0, rows).Select(r => $"w{w}-{r % 5}").ToArray()),
                    Binaries(Enumerable.Range(0, rows).Select(r => r % 3 == 0 ? payload : null).ToArray()));
                lock (gate) output.WriteLine($"SEND {id} {rows}");
                var ack = await engine.AppendAsync("crash", batch);
                lock (gate) output.WriteLine($"ACK {id} {rows} {ack.Sequence}");
            }
        })).ToArray();
        await Task.WhenAll(writers);
        return 0;
    }
}
