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
        foreach (var row in rows)
        {
            enricher.Enrich(row.ClientIp, row.ClientPort, row.ServerIp, row.ServerPort, row.FirstTimestampNs, out var client, out var server);
            Copy(client, row.Client);
            Copy(server, row.Server);
        }
    }

    private static void Copy(Kubernetes.Identity.EndpointIdentity from, EndpointIdentity to)
    {
        to.Pod = from.Pod;
        to.Namespace = from.Namespace;
        to.Workload = from.Workload;
        to.Node = from.Node;
        to.Service = from.Service;
    }
}
