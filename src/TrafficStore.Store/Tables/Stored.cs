using TrafficStore.Ingest.Flows;

namespace TrafficStore.Store.Tables;

/// <summary>
/// A pipeline row as the store keeps it: the row, the ingest run it came from, and the Kubernetes
/// identity of both ends of its connection (empty strings when no snapshot was given).
/// </summary>
public sealed class Stored<T>
{
    public Stored(T row, long captureId, EndpointIdentity client, EndpointIdentity server)
    {
        Row = row;
        CaptureId = captureId;
        Client = client;
        Server = server;
    }

    public T Row { get; }
    public long CaptureId { get; }
    public EndpointIdentity Client { get; }
    public EndpointIdentity Server { get; }

    /// <summary>The namespace a row is accounted to for per-namespace retention: the server's, else the client's.</summary>
    public string Namespace => Server.Namespace.Length > 0 ? Server.Namespace : Client.Namespace;

    public long Global(long localId) => StoreIds.Global(CaptureId, localId);
}
