using System.CommandLine;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Store.Client.Export;

namespace TrafficStore.Cli.Query;

/// <summary>
/// The `--store DIR` / `--server URL` options shared by the store commands, and the client they open:
/// offline <see cref="LocalTrafficClient"/> on the directory, or the remote client registered in
/// <see cref="RemoteClientFactory"/> (the Flight client of TrafficStore.Server) for --server.
/// </summary>
public static class StoreAccess
{
    /// <summary>Creates the client for `--server URL`; set by the server project's registration. Null: --server is refused.</summary>
    public static Func<string, ITrafficClient>? RemoteClientFactory { get; set; }

    public static Option<string> StoreOption() => new("--store")
    {
        Description = $"Store directory (default {TrafficDatabase.DefaultDirectory}).",
        DefaultValueFactory = _ => TrafficDatabase.DefaultDirectory,
    };

    public static Option<string?> ServerOption() => new("--server")
    {
        Description = "Query a TrafficStore server (grpc://host:port) instead of a local store directory.",
    };

    /// <param name="create">Create the store when missing (<c>retention set</c> before the first ingest); else a missing store is an error.</param>
    /// <param name="exportOptions">For a local store: bounds and spill folder of pcap exports (null: the defaults).</param>
    public static ITrafficClient Open(string store, string? server, bool create = false, PcapExportOptions? exportOptions = null)
    {
        if (server is not null)
        {
            if (RemoteClientFactory is null) throw new CliUsageException("--server is not available in this build");
            return RemoteClientFactory(server);
        }
        // Opening creates a store: a mistyped --store (or a query before any ingest) would answer from a new,
        // empty store as if nothing had been captured. Only ingest and serve create stores.
        if (!create && !Directory.Exists(store))
            throw new CliUsageException($"no store at {store} (ingest creates one: trafficstore ingest FILE --store {store}; or give --server URL)");
        return new LocalTrafficClient(TrafficDatabase.Open(store), ownsDatabase: true, exportOptions);
    }
}

/// <summary>A command-line mistake; printed as "trafficstore CMD: message", exit 1.</summary>
public sealed class CliUsageException(string message) : Exception(message);
