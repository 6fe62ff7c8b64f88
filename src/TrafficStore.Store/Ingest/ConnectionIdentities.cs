using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Enrichment;
using RowIdentity = TrafficStore.Ingest.Flows.EndpointIdentity;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Both ends' Kubernetes identities for the rows a capture produces — exchanges, timeline rows, and
/// the owner namespace of frames — resolved once per connection as of its first packet (the
/// timeline knows it). Store ingest and the live agent ask through this, so they agree.
/// </summary>
public sealed class ConnectionIdentities(ConnectionIdentityCache? cache, ConnectionTimeline timeline)
{
    /// <summary>The identity of an end nobody could resolve (no snapshot or watch).</summary>
    public static readonly RowIdentity Nobody = new();

    /// <summary>
    /// Both ends of <paramref name="connectionId"/>, as of its first packet; <paramref name="firstNsFallback"/>
    /// stands in when the timeline no longer knows the connection.
    /// </summary>
    public (RowIdentity Client, RowIdentity Server) Of(long connectionId, string clientIp, int clientPort, string serverIp, int serverPort, long firstNsFallback)
    {
        if (cache is null) return (Nobody, Nobody);
        if (cache.TryGet(connectionId, out var client, out var server)) return (client, server);
        long firstNs = timeline.TryGetEnds(connectionId, out var ends) ? ends.FirstNs : firstNsFallback;
        return cache.Resolve(connectionId, Parse(clientIp), (ushort)clientPort, Parse(serverIp), (ushort)serverPort, firstNs);
    }

    /// <summary>Both ends of a connection whose ends the timeline reported.</summary>
    public (RowIdentity Client, RowIdentity Server) Of(long connectionId, in ConnectionEnds ends) =>
        cache is null ? (Nobody, Nobody) : cache.Resolve(connectionId, ends.ClientIp, ends.ClientPort, ends.ServerIp, ends.ServerPort, ends.FirstNs);

    /// <summary>
    /// The retention namespace a connection's rows are charged to (server end, else client end), for
    /// its frames too; "" without identities or for a connection the timeline has not seen.
    /// </summary>
    public string OwnerNamespace(long connectionId)
    {
        if (cache is null) return "";
        if (!cache.TryGet(connectionId, out var client, out var server))
        {
            if (!timeline.TryGetEnds(connectionId, out var e)) return "";
            (client, server) = Of(connectionId, e);
        }
        return server.Namespace.Length > 0 ? server.Namespace : client.Namespace;
    }

    private static NetAddress Parse(string ip) => System.Net.IPAddress.TryParse(ip, out var a) ? NetAddress.FromIPAddress(a) : default;
}
