using TrafficStore.Engine;
using TrafficStore.Store;
using TrafficStore.Store.Client;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The store a server serves: the database (tables, schemas, estimates, validated durable appends,
/// stats) and the store's local client (queries with logical fields and time travel, pcap export,
/// payloads, retention), which the Flight service exposes to remote callers.
/// </summary>
public sealed class ServedStore
{
    public ServedStore(TrafficDatabase database, ITrafficClient local)
    {
        Database = database;
        Local = local;
    }

    public TrafficDatabase Database { get; }
    public TrafficStoreEngine Engine => Database.Engine;
    public ITrafficClient Local { get; }
}
