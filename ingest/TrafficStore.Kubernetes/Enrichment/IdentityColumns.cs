using TrafficStore.Ingest.Flows;
using TrafficStore.Kubernetes.Identity;
using RowIdentity = TrafficStore.Ingest.Flows.EndpointIdentity;

namespace TrafficStore.Kubernetes.Enrichment;

/// <summary>
/// Maps resolved identities onto the ingest rows' client_/server_ columns: one place for every
/// enrichment path (inspect --k8s-snapshot, store ingest, the live agent).
/// </summary>
public static class IdentityColumns
{
    /// <summary>Resolves both ends of <paramref name="row"/> as of its first packet and fills their columns and the locality.</summary>
    public static void Enrich(this ConnectionEnricher enricher, ConnectionRecord row)
    {
        var locality = enricher.Enrich(row.ClientIp, row.ClientPort, row.ServerIp, row.ServerPort, row.FirstTimestampNs,
            out var client, out var server);
        CopyTo(client, row.Client);
        CopyTo(server, row.Server);
        row.Locality = Name(locality);
    }

    public static void CopyTo(Identity.EndpointIdentity from, RowIdentity to)
    {
        to.Pod = from.Pod;
        to.Namespace = from.Namespace;
        to.Workload = from.Workload;
        to.Node = from.Node;
        to.Zone = from.Zone;
        to.Service = from.Service;
        to.Labels = from.Labels;
    }

    public static RowIdentity ToRow(Identity.EndpointIdentity from)
    {
        var row = new RowIdentity();
        CopyTo(from, row);
        return row;
    }

    /// <summary>The locality column's value ("" for unknown).</summary>
    public static string Name(Locality locality) => locality switch
    {
        Locality.SameNode => "same_node",
        Locality.CrossNode => "cross_node",
        Locality.CrossZone => "cross_zone",
        _ => "",
    };
}
