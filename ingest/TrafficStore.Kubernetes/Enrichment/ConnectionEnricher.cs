using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Identity;

namespace TrafficStore.Kubernetes.Enrichment;

/// <summary>
/// Attaches Kubernetes identities to both ends of a connection row. The caller maps the two
/// <see cref="EndpointIdentity"/> values onto its client_/server_ columns; nothing here allocates.
/// </summary>
public sealed class ConnectionEnricher
{
    private readonly IdentityMap _map;

    public ConnectionEnricher(IdentityMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        _map = map;
    }

    /// <summary>
    /// Resolves both ends as of <paramref name="timestampNs"/> (use the connection's first packet: the
    /// IPs belonged to these pods then). A port counts only where the address is a Service ClusterIP
    /// with that port; otherwise the address alone decides.
    /// </summary>
    public Locality Enrich(NetAddress clientIp, ushort clientPort, NetAddress serverIp, ushort serverPort, long timestampNs,
        out EndpointIdentity client, out EndpointIdentity server)
    {
        client = _map.Resolve(clientIp, clientPort, timestampNs);
        server = _map.Resolve(serverIp, serverPort, timestampNs);
        return LocalityClassifier.Classify(client, server);
    }
}
