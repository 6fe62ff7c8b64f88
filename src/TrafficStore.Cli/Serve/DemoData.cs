using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;

namespace TrafficStore.Cli.Serve;

/// <summary>
/// Fills a store with the demo traffic TrafficStore makes itself: <see cref="TrafficGeneratorOptions.Demo"/>
/// ending now (so "from -15m" finds it), enriched with the generator's own Kubernetes snapshot.
/// A store that already holds a complete demo capture is left alone.
/// </summary>
public static class DemoData
{
    public const string SourcePrefix = "demo:";

    public static async Task<bool> HasDemoAsync(TrafficDatabase db, CancellationToken ct)
    {
        var q = new QuerySpec(TrafficTables.CaptureStats)
            .Where(ColumnFilter.Prefix("source", SourcePrefix), ColumnFilter.Eq("state", "complete"))
            .Select("capture_id");
        await foreach (var batch in db.Engine.QueryAsync(q, ct))
            if (batch.Length > 0) return true;
        return false;
    }

    /// <summary>Generates and ingests the demo; returns what was stored.</summary>
    public static async Task<IngestSummary> IngestAsync(TrafficDatabase db, DateTimeOffset now, CancellationToken ct)
    {
        var options = TrafficGeneratorOptions.Demo with { StartTime = now - TrafficGeneratorOptions.Demo.Duration };
        var demoDir = Path.Combine(db.Directory, "demo");
        Directory.CreateDirectory(demoDir);
        var snapshot = Path.Combine(demoDir, "cluster.json");
        new TrafficGenerator(options).WriteKubernetesSnapshot(snapshot);
        var identities = KubernetesSnapshot.Load(snapshot);
        var ingestor = new CaptureIngestor(db, new CaptureIngestOptions { Identities = identities, IdentitySource = snapshot });
        using var source = new SyntheticCaptureSource(options);
        var summary = await ingestor.IngestAsync(source, $"{SourcePrefix}seed={options.Seed},start={options.StartTime:O}", null, ct);
        await db.Engine.FlushAsync(ct);
        return summary;
    }
}
