using TrafficStore.Ingest.Flows;
using TrafficStore.Kubernetes.Enrichment;
using TrafficStore.Kubernetes.Snapshot;

namespace TrafficStore.Cli.Inspect;

/// <summary>Fills the Kubernetes identity of both ends of connection rows from a kubectl snapshot, as of each connection's first packet.</summary>
public static class SnapshotEnrichment
{
    public static void Enrich(IEnumerable<ConnectionRecord> rows, string snapshotPath)
    {
        var enricher = new ConnectionEnricher(KubernetesSnapshot.Load(snapshotPath));
        foreach (var row in rows) enricher.Enrich(row);
    }
}
