using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Kubernetes.Identity;
using RowIdentity = TrafficStore.Ingest.Flows.EndpointIdentity;

namespace TrafficStore.Kubernetes.Enrichment;

/// <summary>
/// Both ends' Kubernetes identities of each connection, resolved once as of its first packet and
/// reused for every row of that connection (the connection row, its exchanges, its timeline). A
/// connection's addresses belonged to those pods when it opened; re-resolving per row would give
/// one connection two identities when the cluster changes while it is open. Store ingest and the
/// live agent both go through this, so they agree.
/// </summary>
public sealed class ConnectionIdentityCache
{
    private readonly ConnectionEnricher _enricher;
    private readonly Dictionary<long, Entry> _byConnection = new();

    public ConnectionIdentityCache(ConnectionEnricher enricher)
    {
        ArgumentNullException.ThrowIfNull(enricher);
        _enricher = enricher;
    }

    /// <summary>Connections currently held (the agent forgets each when its connection row is emitted).</summary>
    public int Count => _byConnection.Count;

    /// <summary>
    /// The row form of both ends' identities of <paramref name="connectionId"/>; resolved as of
    /// <paramref name="firstNs"/> (the connection's first packet) on first use, then cached.
    /// </summary>
    public (RowIdentity Client, RowIdentity Server) Resolve(long connectionId,
        NetAddress clientIp, ushort clientPort, NetAddress serverIp, ushort serverPort, long firstNs)
    {
        var e = Get(connectionId, clientIp, clientPort, serverIp, serverPort, firstNs);
        return (e.ClientRow, e.ServerRow);
    }

    /// <summary>The row form of a connection's identities when already resolved (no parsing of its addresses needed).</summary>
    public bool TryGet(long connectionId, out RowIdentity client, out RowIdentity server)
    {
        if (_byConnection.TryGetValue(connectionId, out var e)) { (client, server) = (e.ClientRow, e.ServerRow); return true; }
        (client, server) = (null!, null!);
        return false;
    }

    /// <summary>Fills a connection row's identity columns and locality from the cached (or now resolved) identities.</summary>
    public void Enrich(ConnectionRecord row)
    {
        var e = Get(row.ConnectionId, row.ClientIp, row.ClientPort, row.ServerIp, row.ServerPort, row.FirstTimestampNs);
        IdentityColumns.CopyTo(e.Client, row.Client);
        IdentityColumns.CopyTo(e.Server, row.Server);
        row.Locality = IdentityColumns.Name(e.Locality);
    }

    /// <summary>Drops a connection's entry (it ended); a later row of the same id resolves again.</summary>
    public void Forget(long connectionId) => _byConnection.Remove(connectionId);

    private Entry Get(long connectionId, NetAddress clientIp, ushort clientPort, NetAddress serverIp, ushort serverPort, long firstNs)
    {
        if (_byConnection.TryGetValue(connectionId, out var known)) return known;
        var locality = _enricher.Enrich(clientIp, clientPort, serverIp, serverPort, firstNs, out var client, out var server);
        var entry = new Entry(client, server, IdentityColumns.ToRow(client), IdentityColumns.ToRow(server), locality);
        _byConnection[connectionId] = entry;
        return entry;
    }

    private sealed record Entry(Identity.EndpointIdentity Client, Identity.EndpointIdentity Server, RowIdentity ClientRow, RowIdentity ServerRow, Locality Locality);
}
