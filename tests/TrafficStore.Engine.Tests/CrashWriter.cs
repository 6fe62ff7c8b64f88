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
