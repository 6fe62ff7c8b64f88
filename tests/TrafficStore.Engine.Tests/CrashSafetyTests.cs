using System.Collections.Concurrent;
using System.Diagnostics;
using Apache.Arrow;
using TrafficStore.Engine.Query;

namespace TrafficStore.Engine.Tests;

public class CrashSafetyTests
{
    /// <summary>
    /// 20 trials: a child process appends and seals concurrently, is SIGKILLed at a random moment
    /// (fixed seed), and the store is reopened in this process. Every acknowledged batch must be
    /// present exactly once, every present batch must be whole, and no segment may be corrupt.
    /// </summary>
    [Fact]
    public Task AcknowledgedAppendsSurviveSigkill() => RunTrials("crash-writer", 20260126);

    /// <summary>
    /// The same with a bulk load beside the WAL appends: every batch a durable seal reported (and every
    /// WAL-acknowledged batch) is there after the SIGKILL, no batch is partial — a seal unit of several
    /// segments and partitions is all or nothing — and no segment is corrupt.
    /// </summary>
    [Fact]
    public Task BulkLoadAcknowledgedBatchesSurviveSigkill() => RunTrials("bulk-crash-writer", 20261126);

    private static async Task RunTrials(string mode, int seed)
    {
        using var dir = new TempDir();
        var rng = new Random(seed);
        var acked = new Dictionary<long, int>();
        var sent = new Dictionary<long, int>();
        var sequences = new HashSet<long>();
        int bulkAcks = 0;
        // 20 trials, and more (up to 60) until the children acknowledged enough batches and (bulk) sealed a packed segment:
        // the kill moments are wall time, and a loaded machine can give a child little CPU before its kill (its JIT included).
        const int MinTrials = 20, MaxTrials = 60;
        for (int trial = 1; ; trial++)
        {
            var lines = await RunAndKill(mode, dir.Path, trial, rng.Next(30, 500));
            foreach (var line in lines)
            {
                var parts = line.Split(' ');
                if (parts.Length >= 3 && parts[0] == "SEND") sent[long.Parse(parts[1])] = int.Parse(parts[2]);
                if (parts.Length == 4 && parts[0] == "ACK")
                {
                    acked[long.Parse(parts[1])] = int.Parse(parts[2]);
                    long seq = long.Parse(parts[3]);
                    if (seq == 0) bulkAcks++;
                    Assert.True(seq == 0 || sequences.Add(seq), $"sequence {parts[3]} acknowledged twice"); // 0: a bulk-load acknowledgement
                }
            }

            await using var engine = TrafficStoreEngine.Open(CrashWriter.ChildOptions(dir.Path) with { FlushInterval = null, VerifyChunksOnOpen = true });
            Assert.Empty(engine.Health.Quarantined);
            var counts = new Dictionary<long, int>();
            var diag = new QueryDiagnostics();
            await foreach (var batch in engine.QueryAsync(new QuerySpec("crash").Select("batch_id"), diag))
            {
                var ids = (Int64Array)batch.Column(0);
                for (int i = 0; i < batch.Length; i++) counts[ids.GetValue(i)!.Value] = counts.GetValueOrDefault(ids.GetValue(i)!.Value) + 1;
            }
            Assert.Empty(diag.Warnings);
            foreach (var (id, rows) in acked)
                Assert.True(counts.TryGetValue(id, out int n) && n == rows, $"trial {trial}: acknowledged batch {id} has {n} of {rows} rows");
            foreach (var (id, n) in counts)
                Assert.True(sent.TryGetValue(id, out int rows) && rows == n, $"trial {trial}: batch {id} is partial or unknown ({n} rows)");
            // Bulk seal units span several sparse partitions: the trials cover packed segments (format 3) too.
            bool AnyPacked() => Directory.GetFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories)
                .Any(f => Segments.SegmentReader.ReadFooter(f).IsPacked);
            bool enough = acked.Count > 20 && (mode != "bulk-crash-writer" || (bulkAcks > 20 && AnyPacked()));
            if (trial >= MinTrials && (enough || trial == MaxTrials))
            {
                Assert.True(engine.GetStats().Tables["crash"].Segments > 0, "the child never sealed a segment");
                if (mode == "bulk-crash-writer") Assert.True(AnyPacked(), $"no packed segment after {trial} trials");
                break;
            }
            if (trial % 5 == 0) await engine.FlushAsync(); // later trials also start from sealed state
        }
        Assert.True(acked.Count > 20, $"only {acked.Count} batches were acknowledged across all trials");
        if (mode == "bulk-crash-writer") Assert.True(bulkAcks > 20, $"only {bulkAcks} bulk-load batches were acknowledged across all trials");
        Console.WriteLine($"crash test ({mode}): {acked.Count} acknowledged, {sent.Count} sent batches");
    }

    private static async Task<List<string>> RunAndKill(string mode, string dir, int trial, int killAfterMs)
    {
        var dll = typeof(CrashWriter).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var psi = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "exec", dll, mode, dir, trial.ToString() }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var lines = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lines.Enqueue(e.Data);
            if (e.Data == "READY") ready.TrySetResult();
        };
        var stderr = process.StandardError.ReadToEndAsync();
        process.BeginOutputReadLine();
        var started = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(ready.Task.IsCompleted, $"crash writer did not start: {(process.HasExited ? await stderr : "timeout")}");
        await Task.Delay(killAfterMs);
        process.Kill(); // SIGKILL on Unix: no finalizers, no flush
        await process.WaitForExitAsync();
        _ = started;
        return lines.ToList();
    }
}
