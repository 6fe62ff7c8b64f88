using TrafficStore.Engine;
using TrafficStore.Store.Client;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The store a server serves: the engine (tables, schemas, estimates, durable appends, retention,
/// stats) and the store's local client (queries with logical fields and time travel, pcap export,
/// payloads), which the Flight service exposes to remote callers.
/// </summary>
public sealed class ServedStore
{
    public ServedStore(TrafficStoreEngine engine, ITrafficClient local)
    {
        Engine = engine;
        Local = local;
    }

    public TrafficStoreEngine Engine { get; }
    public ITrafficClient Local { get; }
}
