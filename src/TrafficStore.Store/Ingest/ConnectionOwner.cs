using TrafficStore.Kubernetes.Enrichment;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// The retention namespace a connection's rows are charged to (server end, else client end), for
/// its frames too: store ingest and the live agent ask the same question the same way.
/// </summary>
public static class ConnectionOwner
{
    /// <summary>"" without identities or for a connection the timeline has not seen.</summary>
    public static string Namespace(ConnectionIdentityCache? identities, ConnectionTimeline timeline, long connectionId)
    {
        if (identities is null) return "";
        if (!identities.TryGet(connectionId, out var client, out var server))
        {
            if (!timeline.TryGetEnds(connectionId, out var e)) return "";
            (client, server) = identities.Resolve(connectionId, e.ClientIp, e.ClientPort, e.ServerIp, e.ServerPort, e.FirstNs);
        }
        return server.Namespace.Length > 0 ? server.Namespace : client.Namespace;
    }
}
