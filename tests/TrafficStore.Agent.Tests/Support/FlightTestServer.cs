using System.Net;
using System.Net.Sockets;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Observability;
using TrafficStore.Server.Security;
using TrafficStore.Store;
using TrafficStore.Store.Client;

namespace TrafficStore.Agent.Tests.Support;

/// <summary>
/// The real TrafficStore Flight server in-process on 127.0.0.1 over a store directory, on a fixed
/// port so it can be stopped and started again at the same address (the agent keeps its URL).
/// Queries go through the stock <see cref="FlightClient"/>.
/// </summary>
public sealed class FlightTestServer : IAsyncDisposable
{
    public const string Writer = "agent-writer-token-0000000";
    public const string Reader = "test-reader-token-00000000";

    private static readonly string Tokens = $$$"""
        {"tokens": {
          "{{{Writer}}}": {"name": "agent", "namespaces": "*", "scopes": ["write"]},
          "{{{Reader}}}": {"name": "reader", "namespaces": "*", "scopes": ["read", "payloads:read"]}
        }}
        """;

    private TrafficDatabase? _db;
    private LocalTrafficClient? _local;
    private TrafficServer? _server;

    /// <param name="maxReceiveMessageBytes">The server's gRPC receive limit (one DoPut message); null: the server's default.</param>
    /// <param name="database">Store options (e.g. the engine's delivery-source limit); null: the defaults.</param>
    public FlightTestServer(string? directory = null, int? maxReceiveMessageBytes = null, TrafficDatabaseOptions? database = null)
    {
        Directory = directory ?? System.IO.Directory.CreateTempSubdirectory("ts-agent-store-").FullName;
        _port = FreeTcpPort();
        _maxReceiveMessageBytes = maxReceiveMessageBytes;
        _database = database;
    }

    private readonly int? _maxReceiveMessageBytes;
    private readonly TrafficDatabaseOptions? _database;

    public string Directory { get; }
    private int _port;
    private bool _portGiven;

    /// <summary>The server's port, the same across restarts once anything has read it (or it has served).</summary>
    public int Port { get { _portGiven = true; return _port; } }
    public Uri Address => new($"http://127.0.0.1:{Port}");
    public bool Running => _server is not null;
    /// <summary>The running server's counters (DoPut rows, duplicates skipped); null while stopped.</summary>
    public ServerMetrics? Metrics => _server?.Metrics;

    public static int FreeTcpPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async Task StartAsync()
    {
        if (_server is not null) return;
        _db = TrafficDatabase.Open(Directory, _database);
        _local = new LocalTrafficClient(_db);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                _server = await TrafficServer.StartAsync(new ServedStore(_db, _local), TokenFile.Parse(Tokens), new TrafficServerOptions
                {
                    Listen = new IPEndPoint(IPAddress.Loopback, _port),
                    MinimumLogLevel = LogLevel.Warning,
                    JsonLogs = false,
                    MaxReceiveMessageBytes = _maxReceiveMessageBytes ?? new TrafficServerOptions().MaxReceiveMessageBytes,
                });
                _portGiven = true;
                return;
            }
            catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException && !_portGiven && attempt < 5)
            {
                // The probed port was taken (by another process's connection) before Kestrel bound it; nobody holds
                // this address yet, so another port will do.
                _port = FreeTcpPort();
            }
        }
    }

    /// <summary>Stops serving and closes the store (as a crash-free restart would).</summary>
    public async Task StopAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        if (_local is not null) await _local.DisposeAsync();
        if (_db is not null) await _db.DisposeAsync();
        _server = null;
        _local = null;
        _db = null;
    }

    /// <summary>DoGet with a query string as the ticket, through the stock Flight client.</summary>
    public async Task<QueryRows> QueryAsync(string query)
    {
        using var channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20 });
        var client = new FlightClient(channel);
        using var call = client.GetStream(new FlightTicket(query), new Metadata { { "Authorization", "Bearer " + Reader } });
        var batches = new List<RecordBatch>();
        while (await call.ResponseStream.MoveNext()) batches.Add(call.ResponseStream.Current);
        return new QueryRows(batches);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Rows of a query result as text, column by column (null stays null).</summary>
public sealed record QueryRows(IReadOnlyList<RecordBatch> Batches)
{
    public int Count => Batches.Sum(b => b.Length);

    public List<string?> Column(string name)
    {
        var values = new List<string?>();
        foreach (var b in Batches)
        {
            int i = b.Schema.GetFieldIndex(name);
            Assert.True(i >= 0, $"no column '{name}' in the result");
            var array = b.Column(i);
            for (int r = 0; r < array.Length; r++)
            {
                if (array.IsNull(r)) { values.Add(null); continue; }
                values.Add(array switch
                {
                    StringArray s => s.GetString(r),
                    BinaryArray bin => Convert.ToHexStringLower(bin.GetBytes(r)), // after StringArray, which derives from it
                    Int64Array l => l.GetValue(r)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    BooleanArray bo => bo.GetValue(r)!.Value ? "true" : "false",
                    TimestampArray t => t.GetValue(r)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    DurationArray d => d.GetValue(r)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    DoubleArray d => d.GetValue(r)!.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                    _ => array.GetType().Name,
                });
            }
        }
        return values;
    }

    /// <summary>One dictionary per row over the named columns.</summary>
    public List<Dictionary<string, string?>> Rows(params string[] names)
    {
        var columns = names.ToDictionary(n => n, Column);
        return Enumerable.Range(0, Count).Select(r => names.ToDictionary(n => n, n => columns[n][r])).ToList();
    }
}
