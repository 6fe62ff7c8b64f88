using System.CommandLine;
using TrafficStore.Cli.Query;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Cli.Ingest;

/// <summary>
/// `trafficstore ingest FILE... [--k8s-snapshot FILE] [--store DIR]`: decodes each capture and stores
/// every table. A capture that cannot be read to its end keeps what was read before the error, is
/// reported with its file offset, and makes the exit code 2 (the other files are still ingested).
/// </summary>
public static class IngestCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr, bool stderrIsTerminal)
    {
        var files = new Argument<string[]>("files") { Description = "pcap or pcapng capture files.", Arity = ArgumentArity.OneOrMore };
        var snapshot = new Option<string?>("--k8s-snapshot") { Description = "kubectl get pods,services,endpointslices,nodes,replicasets,jobs -A -o json output: fills the Kubernetes identity columns." };
        var store = StoreAccess.StoreOption();
        var command = new Command("ingest", "Decode capture files into the store.") { files, snapshot, store };
        command.SetAction(parse => CliErrors.Guard("ingest", stderr, () =>
            Execute(parse.GetValue(files)!, parse.GetValue(snapshot), parse.GetValue(store)!, stdout, stderr, stderrIsTerminal)));
        return command;
    }

    public static int Execute(string[] files, string? snapshot, string storeDir, TextWriter stdout, TextWriter stderr, bool progress)
    {
        foreach (var f in files)
            if (!File.Exists(f)) throw new CliUsageException($"{f}: no such file");
        if (snapshot is not null && !File.Exists(snapshot)) throw new CliUsageException($"{snapshot}: no such file");
        var options = new CaptureIngestOptions
        {
            Identities = snapshot is null ? null : Inspect.SnapshotEnrichment.LoadSnapshot(snapshot, "--k8s-snapshot"),
            IdentitySource = snapshot,
            Progress = progress ? p => stderr.Write(ProgressLine(p)) : null,
        };
        int exit = CliApp.ExitOk;
        using var db = new DatabaseScope(TrafficDatabase.Open(storeDir));
        var ingestor = new CaptureIngestor(db.Value, options);
        foreach (var file in files)
        {
            IngestSummary s;
            try { s = ingestor.IngestFileAsync(file).GetAwaiter().GetResult(); }
            catch (NotACaptureFileException e)
            {
                // Refused before anything was stored (no capture id taken): say so and go on with the other files.
                stderr.WriteLine($"trafficstore ingest: {e.Message}");
                exit = CliApp.ExitCaptureError;
                continue;
            }
            if (progress) stderr.WriteLine();
            var rows = string.Join(", ", s.RowsByTable.Where(kv => kv.Value > 0 && kv.Key != "capture_stats").Select(kv => $"{kv.Key} {kv.Value}"));
            stdout.WriteLine($"{file}: capture {s.CaptureId}: {s.Frames} frames, {s.Bytes} bytes, {s.TcpConnections} TCP connections, {s.UdpFlows} UDP flows in {s.Elapsed.TotalSeconds:F2} s; stored {(rows.Length > 0 ? rows : "no rows")}");
            if (s.Error is { } error)
            {
                stderr.WriteLine($"trafficstore ingest: {file}: stopped at byte offset {error.ByteOffset}: {error.Kind}: {error.Message} ({(s.Frames > 0 ? $"the {s.Frames} frames before it are stored" : "no frames stored")})");
                exit = CliApp.ExitCaptureError;
            }
        }
        stdout.WriteLine($"store: {Path.GetFullPath(storeDir)}");
        return exit;
    }

    private static string ProgressLine(IngestProgress p)
    {
        if (p.Length is > 0 and long length)
        {
            double fraction = Math.Clamp((double)p.Offset / length, 0, 1);
            int filled = (int)(fraction * 30);
            return $"\r{Path.GetFileName(p.Source)} [{new string('#', filled)}{new string('.', 30 - filled)}] {fraction:P0} {p.Frames} frames";
        }
        return $"\r{Path.GetFileName(p.Source)}: {p.Frames} frames";
    }
}

/// <summary>Disposes a database from synchronous command actions (flushes the engine).</summary>
public readonly struct DatabaseScope(TrafficDatabase value) : IDisposable
{
    public TrafficDatabase Value { get; } = value;
    public void Dispose() => Value.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
