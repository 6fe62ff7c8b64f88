using TrafficStore.Ingest.Flows;
using TrafficStore.Kubernetes.Enrichment;
using TrafficStore.Kubernetes.Snapshot;

namespace TrafficStore.Cli.Inspect;

/// <summary>Fills the Kubernetes identity of both ends of connection rows from a kubectl snapshot, as of each connection's first packet.</summary>
public static class SnapshotEnrichment
{
    public static void Enrich(IEnumerable<ConnectionRecord> rows, string snapshotPath)
    {
        var enricher = new ConnectionEnricher(LoadSnapshot(snapshotPath, "--k8s-snapshot"));
        foreach (var row in rows) enricher.Enrich(row);
    }

    /// <summary>
    /// Loads a kubectl JSON snapshot; a file that is not JSON is a usage error naming the flag and file
    /// (the JSON reader's exception reached the user as "internal error: JsonReaderException").
    /// </summary>
    public static TrafficStore.Kubernetes.Identity.IdentityMap LoadSnapshot(string path, string flag)
    {
        try { return KubernetesSnapshot.Load(path); }
        catch (System.Text.Json.JsonException e)
        {
            throw new Query.CliUsageException($"{flag} {path}: not a kubectl JSON snapshot (kubectl get pods,services,endpointslices,nodes,replicasets,jobs -A -o json): {e.Message}");
        }
    }
}
