using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Security;
using TrafficStore.Store;
using TrafficStore.Store.Client;

namespace TrafficStore.Server.Tests.Support;

/// <summary>
/// A server on 127.0.0.1 with a free port over a store directory, with the test tokens below, and a
/// stock <see cref="FlightClient"/> to talk to it (the tests send query strings and read record batches).
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string Admin = "admin-token-000000000000";
    public const string Reader = "reader-token-00000000000";      // read, every namespace, no payloads:read
    public const string Shop = "shop-token-0000000000000000";     // read + payloads:read, namespace shop only
    public const string Writer = "writer-token-00000000000";      // write only
    public const string Unknown = "unknown-token-0000000000";

    public static string TokenJson => $$$"""
        {"tokens": {
          "{{{Admin}}}":  {"name": "admin",  "namespaces": "*", "scopes": ["read", "write", "admin", "payloads:read"]},
          "{{{Reader}}}": {"name": "reader", "namespaces": "*", "scopes": ["read"]},
          "{{{Shop}}}":   {"name": "shop",   "namespaces": ["shop"], "scopes": ["read", "payloads:read"]},
          "{{{Writer}}}": {"name": "agent",  "namespaces": "*", "scopes": ["write"]}
        }}
        """;

    private TestServer(string directory, bool ownsDirectory, TrafficDatabase db, LocalTrafficClient local, TrafficServer server)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        Database = db;
        Local = local;
        Server = server;
        Channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20 });
        Client = new FlightClient(Channel);
    }

    private readonly bool _ownsDirectory;
    public string Directory { get; }
    public TrafficDatabase Database { get; }
    public LocalTrafficClient Local { get; }
    public TrafficServer Server { get; }
    public GrpcChannel Channel { get; }
    public FlightClient Client { get; }

    public static string NewDirectory() => System.IO.Directory.CreateTempSubdirectory("ts-server-").FullName;

    /// <summary>Starts a server over <paramref name="directory"/> (a new temporary store when null).</summary>
    public static async Task<TestServer> StartAsync(string? directory = null, TrafficDatabaseOptions? database = null,
        Func<TrafficServerOptions, TrafficServerOptions>? configure = null)
    {
        bool owns = directory is null;
        directory ??= NewDirectory();
        var db = TrafficDatabase.Open(directory, database);
        var local = new LocalTrafficClient(db);
        var options = new TrafficServerOptions
        {
            Listen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
            MinimumLogLevel = LogLevel.Warning,
            JsonLogs = false,
        };
        var server = await TrafficServer.StartAsync(new ServedStore(db, local), TokenFile.Parse(TokenJson), configure?.Invoke(options) ?? options);
        return new TestServer(directory, owns, db, local, server);
    }

    public static Metadata Auth(string token) => new() { { "Authorization", "Bearer " + token } };

    /// <summary>DoGet with a query string as the ticket; all batches of the stream.</summary>
    public async Task<QueryRows> GetAsync(string ticket, string token = Admin)
    {
        using var call = Client.GetStream(new FlightTicket(ticket), Auth(token));
        var schema = await call.ResponseStream.Schema;
        var batches = new List<RecordBatch>();
        while (await call.ResponseStream.MoveNext()) batches.Add(call.ResponseStream.Current);
        return new QueryRows(schema, batches);
    }

    public async Task<List<byte[]>> ActionAsync(string type, string body, string token = Admin)
    {
        using var call = Client.DoAction(new FlightAction(type, body), Auth(token));
        var results = new List<byte[]>();
        while (await call.ResponseStream.MoveNext()) results.Add(call.ResponseStream.Current.Body.ToByteArray());
        return results;
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
        await Local.DisposeAsync();
        await Database.DisposeAsync();
        if (_ownsDirectory)
        {
            try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
        }
    }
}

/// <summary>Rows of a query result, read column by column as text (null stays null).</summary>
public sealed record QueryRows(Schema Schema, IReadOnlyList<RecordBatch> Batches)
{
    public int Count => Batches.Sum(b => b.Length);

    public List<string?> Column(string name)
    {
        var values = new List<string?>();
        foreach (var b in Batches)
        {
            int i = b.Schema.GetFieldIndex(name);
            Assert.True(i >= 0, $"no column '{name}' in the result");
            values.AddRange(ArrowText.Values(b.Column(i)));
        }
        return values;
    }

    /// <summary>One tuple per row of the named columns, joined with '|'.</summary>
    public List<string> Tuples(params string[] names)
    {
        var columns = names.Select(Column).ToList();
        return Enumerable.Range(0, Count).Select(r => string.Join("|", columns.Select(c => c[r] ?? ""))).ToList();
    }
}

public static class ArrowText
{
    public static IEnumerable<string?> Values(IArrowArray array)
    {
        for (int i = 0; i < array.Length; i++)
        {
            if (array.IsNull(i)) { yield return null; continue; }
            yield return array switch
            {
                StringArray s => s.GetString(i),
                Int64Array l => l.GetValue(i)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                DoubleArray d => d.GetValue(i)!.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                BooleanArray b => b.GetValue(i)!.Value ? "true" : "false",
                TimestampArray t => t.GetValue(i)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                DurationArray d => d.GetValue(i)!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                BinaryArray bin => Convert.ToBase64String(bin.GetBytes(i)),
                _ => throw new NotSupportedException(array.GetType().Name),
            };
        }
    }
}
