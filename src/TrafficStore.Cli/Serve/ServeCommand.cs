using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using TrafficStore.Cli.Query;
using TrafficStore.Engine;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Security;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Store.Client.Export;
using TrafficStore.Store.Tables;

namespace TrafficStore.Cli.Serve;

/// <summary>
/// <c>trafficstore serve [--store DIR] [--listen 127.0.0.1:8815] [--tokens FILE] [--tls-cert F --tls-key F] [--demo]</c>:
/// serves a store over Arrow Flight until Ctrl+C / SIGTERM, then finishes the calls in flight,
/// flushes the engine and closes the store. Without <c>--tokens</c> it uses (creating it on first
/// run, with one all-scopes token it prints) <c>tokens.json</c> in the store directory: there is
/// no unauthenticated mode.
/// </summary>
public static class ServeCommand
{
    public const string TokenFileName = "tokens.json";
    /// <summary>The agent reads its token from this variable too, so one Secret serves both sides (deploy/).</summary>
    public const string IngestTokenVariable = "TRAFFICSTORE_INGEST_TOKEN";
    public const string QueryTokenVariable = "TRAFFICSTORE_QUERY_TOKEN";
    /// <summary>The deploy ConfigMap's retention settings (deploy/kubernetes/configmap.yaml, the Helm chart's values).</summary>
    public const string RetentionMaxAgeVariable = "TRAFFICSTORE_RETENTION_MAX_AGE";
    public const string RetentionMaxBytesVariable = "TRAFFICSTORE_RETENTION_MAX_BYTES";
    public const string RetentionIntervalVariable = "TRAFFICSTORE_RETENTION_INTERVAL";

    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var store = new Option<string>("--store") { Description = $"Store directory (default: {TrafficDatabase.DefaultDirectory})." };
        var listen = new Option<string>("--listen")
        {
            Description = $"Address:port to serve on (port 0 picks a free one).",
            DefaultValueFactory = _ => $"127.0.0.1:{TrafficServerOptions.DefaultPort}",
        };
        var tokens = new Option<string>("--tokens") { Description = "Token file (JSON, see docs/server.md); default: tokens.json in the store, created with one admin token when missing." };
        var cert = new Option<string>("--tls-cert") { Description = "PEM certificate: serve TLS (needs --tls-key)." };
        var key = new Option<string>("--tls-key") { Description = "PEM private key of --tls-cert." };
        var demo = new Option<bool>("--demo") { Description = "First fill the store with generated demo traffic (once), then serve it." };
        var cache = new Option<int>("--cache-mb")
        {
            Description = "Memory for decoded column chunks kept between queries (repeated and concurrent queries skip decompression; 0 turns it off).",
            DefaultValueFactory = _ => ServeSettings.DefaultChunkCacheMb,
        };
        var maxExport = new Option<long>("--max-export-mb")
        {
            Description = "Largest file one export.pcap call may produce (exports stream with bounded memory; this bounds time and bandwidth).",
            DefaultValueFactory = _ => TrafficServerOptions.DefaultMaxExportBytes >> 20,
        };
        var spillDir = new Option<string?>("--export-spill-dir")
        {
            Description = "Where export.pcap calls merging more than 32 overlapping captures put their temp files (as large as the export); default: tmp/ in the store (not /tmp: RAM or read-only on a pod).",
        };
        var maxSources = new Option<int>("--max-delivery-sources")
        {
            Description = "Most node agents (delivery sources) whose exactly-once marks the store keeps; a new agent past it is refused (ResourceExhausted) until idle marks expire.",
            DefaultValueFactory = _ => StoreOptions.DefaultMaxDeliverySources,
        };
        var markIdle = new Option<string>("--delivery-mark-max-idle")
        {
            Description = "Drop the delivery mark of an agent that sent nothing for this long (30m, 12h, 30d, 4w); a batch it resends later is stored again.",
            DefaultValueFactory = _ => Retention.RetentionCommand.Age(StoreOptions.DefaultDeliveryMarkMaxIdle),
        };
        var retentionAge = new Option<string?>("--retention-max-age") { Description = $"Set the global retention age at start (30m, 12h, 7d, none); default ${RetentionMaxAgeVariable}; unset: the stored policy (retention set) stays." };
        var retentionBytes = new Option<string?>("--retention-max-bytes") { Description = $"Set the global size limit at start (500M, 100G, a number, none); default ${RetentionMaxBytesVariable}." };
        var retentionInterval = new Option<string?>("--retention-interval") { Description = $"How often retention runs (30s, 5m, 1h); default ${RetentionIntervalVariable}, else 1m." };
        var ingestToken = new Option<string?>("--ingest-token")
        {
            Description = $"Also accept this token for node agents (scope write, all namespaces); default ${IngestTokenVariable} (how deploy/ passes it).",
        };
        var queryToken = new Option<string?>("--query-token")
        {
            Description = $"Also accept this token for query clients (scope read, all namespaces); default ${QueryTokenVariable}.",
        };
        var logFormat = new Option<string>("--log-format") { Description = "Log lines: json (structured) or text.", DefaultValueFactory = _ => "json" };
        logFormat.AcceptOnlyFromAmong("json", "text");

        var command = new Command("serve", "Serve a store over Arrow Flight (queries, time travel, ingest from agents, admin).")
        {
            store, listen, tokens, cert, key, demo, cache, maxExport, spillDir, maxSources, markIdle, retentionAge, retentionBytes, retentionInterval, ingestToken, queryToken, logFormat,
        };
        command.SetAction((parse, ct) => RunAsync(new ServeSettings
        {
            StoreDirectory = parse.GetValue(store) ?? TrafficDatabase.DefaultDirectory,
            Listen = parse.GetValue(listen)!,
            TokenFile = parse.GetValue(tokens),
            // Read here, not as option defaults: --help would print the secrets.
            IngestToken = parse.GetValue(ingestToken) ?? NonEmpty(Environment.GetEnvironmentVariable(IngestTokenVariable)),
            QueryToken = parse.GetValue(queryToken) ?? NonEmpty(Environment.GetEnvironmentVariable(QueryTokenVariable)),
            TlsCertificate = parse.GetValue(cert),
            TlsKey = parse.GetValue(key),
            Demo = parse.GetValue(demo),
            ChunkCacheMb = parse.GetValue(cache),
            MaxExportMb = parse.GetValue(maxExport),
            ExportSpillDirectory = parse.GetValue(spillDir),
            MaxDeliverySources = parse.GetValue(maxSources),
            DeliveryMarkMaxIdle = parse.GetValue(markIdle)!,
            RetentionMaxAge = parse.GetValue(retentionAge) ?? NonEmpty(Environment.GetEnvironmentVariable(RetentionMaxAgeVariable)),
            RetentionMaxBytes = parse.GetValue(retentionBytes) ?? NonEmpty(Environment.GetEnvironmentVariable(RetentionMaxBytesVariable)),
            RetentionInterval = parse.GetValue(retentionInterval) ?? NonEmpty(Environment.GetEnvironmentVariable(RetentionIntervalVariable)),
            JsonLogs = parse.GetValue(logFormat) == "json",
        }, stdout, stderr, ct));
        return command;
    }

    public static async Task<int> RunAsync(ServeSettings settings, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        System.Net.IPEndPoint endpoint;
        try { endpoint = TrafficServerOptions.ParseListen(settings.Listen); }
        catch (FormatException e)
        {
            stderr.WriteLine($"trafficstore serve: {e.Message}");
            return CliApp.ExitUsage;
        }
        // Look before opening the store (which can take a while): a taken port is said at once. The bind itself can
        // still fail (the port taken since): that is said the same way below.
        if (BusyPort(endpoint) is { } busy)
        {
            stderr.WriteLine($"trafficstore serve: {busy}");
            return CliApp.ExitUsage;
        }
        settings.AfterPortProbe?.Invoke();
        if ((settings.TlsCertificate is null) != (settings.TlsKey is null))
        {
            stderr.WriteLine("trafficstore serve: --tls-cert and --tls-key go together.");
            return CliApp.ExitUsage;
        }

        TokenFile tokenFile;
        string? newToken = null;
        var tokenPath = settings.TokenFile ?? Path.Combine(settings.StoreDirectory, TokenFileName);
        try
        {
            if (settings.TokenFile is null && !File.Exists(tokenPath)) newToken = TokenFile.CreateAdminFile(tokenPath);
            tokenFile = LoadTokens(tokenPath, settings.IngestToken, settings.QueryToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            // TokenFile's own messages start with the path already.
            stderr.WriteLine($"trafficstore serve: {(e.Message.StartsWith(tokenPath, StringComparison.Ordinal) ? e.Message : $"{tokenPath}: {e.Message}")}");
            return CliApp.ExitUsage;
        }

        TrafficDatabase db;
        if (settings.ChunkCacheMb < 0)
        {
            stderr.WriteLine("trafficstore serve: --cache-mb must be 0 or more");
            return CliApp.ExitUsage;
        }
        if (settings.MaxExportMb is < 1 or > (long.MaxValue >> 20))
        {
            stderr.WriteLine("trafficstore serve: --max-export-mb must be at least 1");
            return CliApp.ExitUsage;
        }
        if (settings.MaxDeliverySources < 1)
        {
            stderr.WriteLine("trafficstore serve: --max-delivery-sources must be at least 1");
            return CliApp.ExitUsage;
        }
        TimeSpan markMaxIdle;
        try
        {
            markMaxIdle = Retention.RetentionCommand.ParseAge(settings.DeliveryMarkMaxIdle, "--delivery-mark-max-idle")
                          ?? throw new CliUsageException("'none' is not allowed");
        }
        catch (CliUsageException)
        {
            stderr.WriteLine($"trafficstore serve: --delivery-mark-max-idle '{settings.DeliveryMarkMaxIdle}' is not a duration (e.g. 12h, 30d, 4w)");
            return CliApp.ExitUsage;
        }
        TimeSpan? maxAge, retentionEvery = null;
        long? maxBytes;
        try
        {
            maxAge = settings.RetentionMaxAge is { } a ? Retention.RetentionCommand.ParseAge(a, "--retention-max-age") : null;
            maxBytes = settings.RetentionMaxBytes is { } b ? Retention.RetentionCommand.ParseBytes(b, "--retention-max-bytes") : null;
            if (settings.RetentionInterval is { } i)
                retentionEvery = Retention.RetentionCommand.ParseAge(i, "--retention-interval") ?? throw new CliUsageException("--retention-interval 'none' is not an interval (e.g. 30s, 5m, 1h)");
        }
        catch (CliUsageException e)
        {
            stderr.WriteLine($"trafficstore serve: {e.Message}");
            return CliApp.ExitUsage;
        }
        long cacheBytes = (long)settings.ChunkCacheMb << 20;
        var storeOptions = new TrafficDatabaseOptions
        {
            Engine = o => o with
            {
                ChunkCacheBytes = cacheBytes,
                MaxDeliverySources = settings.MaxDeliverySources,
                DeliveryMarkMaxIdle = markMaxIdle,
                RetentionInterval = retentionEvery ?? o.RetentionInterval,
            },
        };
        try { db = TrafficDatabase.Open(settings.StoreDirectory, storeOptions); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            stderr.WriteLine($"trafficstore serve: cannot open the store {settings.StoreDirectory}: {e.Message}");
            return CliApp.ExitUsage;
        }

        await using var local = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { SpillDirectory = settings.ExportSpillDirectory });
        try
        {
            if (settings.RetentionMaxAge is not null || settings.RetentionMaxBytes is not null)
            {
                // Only the limits given change: namespace limits (and the other global one) set with `retention set` stay.
                var policy = db.Engine.RetentionPolicy;
                var global = policy.Global with
                {
                    MaxAge = settings.RetentionMaxAge is null ? policy.Global.MaxAge : maxAge,
                    MaxBytes = settings.RetentionMaxBytes is null ? policy.Global.MaxBytes : maxBytes,
                };
                await db.Engine.SetRetentionPolicyAsync(policy with { Global = global }, ct);
                stdout.WriteLine($"Retention: global max_age {Retention.RetentionCommand.Age(global.MaxAge)}, max_bytes {global.MaxBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}.");
            }
            if (settings.Demo)
            {
                if (await DemoData.HasDemoAsync(db, ct))
                {
                    stdout.WriteLine($"Demo data already in {settings.StoreDirectory}; serving it.");
                }
                else
                {
                    stdout.WriteLine($"Generating demo traffic into {settings.StoreDirectory} ...");
                    var summary = await DemoData.IngestAsync(db, DateTimeOffset.UtcNow, ct);
                    stdout.WriteLine($"Stored {summary.Frames} frames: " +
                                     string.Join(", ", summary.RowsByTable.Where(p => p.Value > 0).Select(p => $"{p.Value} {p.Key}")) + ".");
                }
            }

            TrafficServer server;
            try
            {
                server = await TrafficServer.StartAsync(new ServedStore(db, local), tokenFile, new TrafficServerOptions
                {
                    Listen = endpoint,
                    TlsCertificateFile = settings.TlsCertificate,
                    TlsKeyFile = settings.TlsKey,
                    JsonLogs = settings.JsonLogs,
                    MinimumLogLevel = settings.MinimumLogLevel,
                    MaxExportBytes = settings.MaxExportMb << 20,
                }, ct);
            }
            catch (IOException e)
            {
                // Kestrel's message names the address but not which of our two ports it is: look again (the
                // server released what it bound), else say the address it gives.
                stderr.WriteLine($"trafficstore serve: {BusyPort(endpoint) ?? $"cannot listen on {settings.Listen}: {FirstLine(e.Message)}"}");
                return CliApp.ExitUsage;
            }

            await using (server)
            {
                PrintWelcome(stdout, server.Address, server.OpsAddress, tokenPath, newToken, settings.Demo);
                if (settings.IngestToken is not null || settings.QueryToken is not null)
                    stdout.WriteLine("Also accepted: " + string.Join(", ", new[]
                    {
                        settings.IngestToken is null ? null : $"the ingest token (write; --ingest-token or ${IngestTokenVariable})",
                        settings.QueryToken is null ? null : $"the query token (read; --query-token or ${QueryTokenVariable})",
                    }.OfType<string>()) + ".");
                // Ends on Ctrl+C / SIGTERM (the command's token, or the host's own signal handling).
                try { await server.WaitForShutdownAsync(ct); }
                catch (OperationCanceledException) { }
                stdout.WriteLine("Stopping: finishing calls in flight ...");
            }
            await db.Engine.FlushAsync(CancellationToken.None);
            stdout.WriteLine("Store flushed and closed.");
            return CliApp.ExitOk;
        }
        finally
        {
            await db.DisposeAsync();
        }
    }

    /// <summary>
    /// "cannot listen on ADDRESS:PORT: reason" for the first of the Flight port and the ops port (/healthz,
    /// /metrics: the port after it) that cannot be bound now; null when both can (or the port is 0: picked free).
    /// </summary>
    private static string? BusyPort(System.Net.IPEndPoint endpoint)
    {
        foreach (var port in endpoint.Port == 0 ? [] : new[] { endpoint.Port, endpoint.Port + 1 })
        {
            if (port > System.Net.IPEndPoint.MaxPort || PortInUse(new System.Net.IPEndPoint(endpoint.Address, port)) is not { } reason) continue;
            return $"cannot listen on {endpoint.Address}:{port}{(port == endpoint.Port ? "" : " (/healthz and /metrics: the port after --listen's)")}: {reason}";
        }
        return null;
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd();

    private static string? PortInUse(System.Net.IPEndPoint endpoint)
    {
        var probe = new System.Net.Sockets.TcpListener(endpoint);
        try { probe.Start(); return null; }
        catch (System.Net.Sockets.SocketException e) { return e.Message; }
        finally { probe.Stop(); }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>
    /// The token file plus the <c>--ingest-token</c> (write) and <c>--query-token</c> (read) tokens, all namespaces.
    /// A token the file already lists keeps the file's permissions. The same rules as the file's apply (16 characters at least).
    /// </summary>
    public static TokenFile LoadTokens(string path, string? ingestToken, string? queryToken)
    {
        if (ingestToken is null && queryToken is null) return TokenFile.Load(path);
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException("expected a JSON object with a \"tokens\" object"); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"not valid JSON: {e.Message}"); }
        if (root["tokens"] is not JsonObject entries) throw new InvalidDataException("\"tokens\" must be an object of token -> permissions");
        void Add(string? token, string name, string scope)
        {
            if (token is null || entries.ContainsKey(token)) return;
            if (token.Length < 16) throw new InvalidDataException($"the {name} token (--{name}-token) is shorter than 16 characters");
            entries[token] = new JsonObject { ["name"] = name, ["namespaces"] = "*", ["scopes"] = new JsonArray(scope) };
        }
        Add(ingestToken, "ingest", Scopes.Write);
        Add(queryToken, "query", Scopes.Read);
        return TokenFile.Parse(root.ToJsonString(), path);
    }

    private static void PrintWelcome(TextWriter stdout, Uri address, Uri ops, string tokenPath, string? newToken, bool demo)
    {
        var flightUri = $"grpc+{(address.Scheme == "https" ? "tls" : "tcp")}://{address.Authority}";
        stdout.WriteLine($"Serving Arrow Flight on {address} ({flightUri}); /healthz and /metrics on {ops}");
        if (newToken is not null)
            stdout.WriteLine($"Created {tokenPath} with an admin token (keep it secret):\n  {newToken}");
        else
            stdout.WriteLine($"Tokens: {tokenPath}");
        string token = newToken ?? "<a token from " + Path.GetFileName(tokenPath) + ">";
        stdout.WriteLine("Query it (the token can also go in the address: grpc://TOKEN@host:port):");
        stdout.WriteLine($"  export TRAFFICSTORE_TOKEN={token}");
        stdout.WriteLine($"  trafficstore query --server {flightUri} \"http where namespace=shop and status>=500 from -15m\"");
        if (demo)
        {
            stdout.WriteLine($"  trafficstore query --server {flightUri} \"connections as of -5m\"");
            stdout.WriteLine($"  any Flight client: DoGet(ticket=\"connections as of -5m\") on {flightUri} with header 'authorization: Bearer <token>'");
        }
        stdout.WriteLine("Stop with Ctrl+C.");
        stdout.Flush();
    }
}

/// <summary>Parsed options of <c>serve</c>.</summary>
public sealed record ServeSettings
{
    public required string StoreDirectory { get; init; }
    public string Listen { get; init; } = $"127.0.0.1:{TrafficServerOptions.DefaultPort}";
    public string? TokenFile { get; init; }
    /// <summary>Accepted besides the token file: write scope (node agents), all namespaces.</summary>
    public string? IngestToken { get; init; }
    /// <summary>Accepted besides the token file: read scope, all namespaces.</summary>
    public string? QueryToken { get; init; }
    public string? TlsCertificate { get; init; }
    public string? TlsKey { get; init; }
    public bool Demo { get; init; }
    /// <summary>A server answers the same dashboards' queries again and again: keep 256 MiB of decoded chunks by default.</summary>
    public const int DefaultChunkCacheMb = 256;
    public int ChunkCacheMb { get; init; } = DefaultChunkCacheMb;
    public long MaxExportMb { get; init; } = TrafficServerOptions.DefaultMaxExportBytes >> 20;
    /// <summary>Temp files of exports merged in passes; null: the store's tmp folder (<c>ExportSpillDirectory</c>).</summary>
    public string? ExportSpillDirectory { get; init; }
    /// <summary>The engine's default (<c>StoreOptions.MaxDeliverySources</c>): one agent id per node and spool, with room to spare.</summary>
    public int MaxDeliverySources { get; init; } = StoreOptions.DefaultMaxDeliverySources;
    /// <summary>A duration as <c>retention set --max-age</c> takes it; default the engine's (<c>StoreOptions.DeliveryMarkMaxIdle</c>).</summary>
    public string DeliveryMarkMaxIdle { get; init; } = Retention.RetentionCommand.Age(StoreOptions.DefaultDeliveryMarkMaxIdle);
    /// <summary>Global retention limits set at start (<c>retention set</c> syntax); null leaves the stored one.</summary>
    public string? RetentionMaxAge { get; init; }
    public string? RetentionMaxBytes { get; init; }
    /// <summary>How often the engine applies retention (<c>StoreOptions.RetentionInterval</c>); null: its default.</summary>
    public string? RetentionInterval { get; init; }
    public bool JsonLogs { get; init; } = true;
    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Information;
    /// <summary>
    /// Tests: runs right after the free-port check, so a test can take a port in the window between that
    /// check and the server's bind (another process could, in that window).
    /// </summary>
    internal Action? AfterPortProbe { get; init; }
}
