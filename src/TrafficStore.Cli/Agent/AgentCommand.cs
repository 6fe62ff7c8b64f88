using System.CommandLine;
using TrafficStore.Agent;
using TrafficStore.Agent.Observability;
using TrafficStore.Cli.Query;
using TrafficStore.Ingest.Capture;
using TrafficStore.Kubernetes.Identity;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Kubernetes.Watch;

namespace TrafficStore.Cli.Agent;

/// <summary>
/// <c>trafficstore agent --server URL [--token T] [--interface lo|any|eth0 ...] [--filter BPF] [--snaplen N]
/// [--promiscuous] [--buffer-mb N] [--spool DIR --spool-max-mb N] [--node NAME] [--metrics 127.0.0.1:9102]</c>:
/// captures live traffic on this node and ships it to a TrafficStore server (docs/agent.md) until
/// Ctrl+C / SIGTERM, then flushes the pipeline and the spool.
/// </summary>
public static class AgentCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var server = new Option<string>("--server") { Description = "Flight server URL, e.g. http://trafficstore:8815.", Required = true };
        var token = new Option<string>("--token") { Description = "Bearer token with the write scope (default: $TRAFFICSTORE_INGEST_TOKEN, else $TRAFFICSTORE_TOKEN)." };
        var interfaces = new Option<string[]>("--interface", "-i")
        {
            Description = "Interface to capture (repeatable): lo, any, eth0 ... (default: any).",
            AllowMultipleArgumentsPerToken = true,
        };
        var filter = new Option<string>("--filter") { Description = "BPF filter (tcpdump syntax)." };
        var snaplen = new Option<int>("--snaplen") { Description = "Bytes kept per packet.", DefaultValueFactory = _ => 262144 };
        var promiscuous = new Option<bool>("--promiscuous") { Description = "Put the interfaces in promiscuous mode." };
        var bufferMb = new Option<int?>("--buffer-mb") { Description = "Kernel capture buffer per interface, MiB (default: libpcap's)." };
        var spool = new Option<string>("--spool") { Description = "Spool directory (default: $TRAFFICSTORE_SPOOL, else $XDG_STATE_HOME or ~/.local/state/trafficstore/spool, else the temp directory)." };
        var spoolMax = new Option<long>("--spool-max-mb") { Description = "Spool size limit, MiB; past it the oldest data is dropped and counted.", DefaultValueFactory = _ => 1024 };
        var node = new Option<string>("--node") { Description = "Node name for the rows (default: $NODE_NAME, else the host name)." };
        var metrics = new Option<string>("--metrics") { Description = "Serve /metrics and /healthz on this address:port, e.g. 127.0.0.1:9102." };
        var idle = new Option<double>("--idle-timeout") { Description = "Seconds a flow may be idle before its row is shipped.", DefaultValueFactory = _ => 60 };
        var flush = new Option<double>("--flush-interval") { Description = "Seconds between batches cut from the rows and spooled (then shipped).", DefaultValueFactory = _ => 1 };
        var proc = new Option<string>("--proc")
        {
            Description = "The /proc to read socket owners from (host /proc in a DaemonSet); 'none' disables process identity (default: $TRAFFICSTORE_PROC_ROOT, else /proc).",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRAFFICSTORE_PROC_ROOT") is { Length: > 0 } p ? p : "/proc",
        };
        var k8s = new Option<string>("--k8s")
        {
            Description = "Kubernetes identity of both ends: 'auto' (watch the cluster when running in one), 'watch' (in-cluster or kubeconfig), 'none', or a kubectl snapshot file.",
            DefaultValueFactory = _ => "auto",
        };

        var identityHistory = new Option<string?>("--identity-history")
        {
            Description = "With --k8s watch: how long a deleted pod or service stays resolvable for late packets (30m, 1h, 1d; default: $TRAFFICSTORE_IDENTITY_HISTORY, else 1h).",
        };

        var noFrames = new Option<bool>("--no-frames")
        {
            Description = "Do not ship raw frames (the packets table): about the captured volume itself; without them 'export pcap' has nothing for this node's captures.",
        };

        var frameHold = new Option<int>("--frame-hold-mb")
        {
            Description = "Frames held at most this many MiB (and one flush interval) waiting for the HTTP body they carry, so body bytes are stored once (at least 1).",
            DefaultValueFactory = _ => 16,
        };

        var command = new Command("agent", "Capture live traffic on this node and ship it to a TrafficStore server (Flight DoPut, disk spool).")
        {
            server, token, interfaces, filter, snaplen, promiscuous, bufferMb, spool, spoolMax, node, metrics, idle, flush, proc, k8s, identityHistory, noFrames, frameHold,
        };
        command.SetAction((parse, ct) =>
        {
            if (!Uri.TryCreate(parse.GetValue(server), UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                stderr.WriteLine("trafficstore agent: --server must be an http:// or https:// URL.");
                return Task.FromResult(CliApp.ExitUsage);
            }
            if (parse.GetValue(frameHold) < 1)
            {
                stderr.WriteLine("trafficstore agent: --frame-hold-mb must be at least 1.");
                return Task.FromResult(CliApp.ExitUsage);
            }
            // TimeSpan.FromSeconds threw on NaN, negatives were accepted and 1e20 overflowed (an "internal error").
            foreach (var (name, seconds) in new[] { ("--idle-timeout", parse.GetValue(idle)), ("--flush-interval", parse.GetValue(flush)) })
            {
                if (seconds is > 0 and <= 1e9) continue;
                stderr.WriteLine($"trafficstore agent: {name} must be a number of seconds above 0 (at most 1e9).");
                return Task.FromResult(CliApp.ExitUsage);
            }
            TimeSpan history;
            var historyText = parse.GetValue(identityHistory) ?? (Environment.GetEnvironmentVariable("TRAFFICSTORE_IDENTITY_HISTORY") is { Length: > 0 } h ? h : "1h");
            try
            {
                history = Retention.RetentionCommand.ParseAge(historyText, "--identity-history")
                          ?? throw new CliUsageException("--identity-history 'none' is not a duration (e.g. 30m, 1h, 1d)");
            }
            catch (CliUsageException e)
            {
                stderr.WriteLine($"trafficstore agent: {e.Message}");
                return Task.FromResult(CliApp.ExitUsage);
            }
            var names = parse.GetValue(interfaces) is { Length: > 0 } i ? i : ["any"];
            string procRoot = parse.GetValue(proc)!;
            var options = new AgentOptions
            {
                Server = uri,
                Token = parse.GetValue(token) ?? Environment.GetEnvironmentVariable("TRAFFICSTORE_INGEST_TOKEN") ?? Environment.GetEnvironmentVariable("TRAFFICSTORE_TOKEN"),
                Interfaces = names,
                Capture = new LiveCaptureOptions
                {
                    Filter = parse.GetValue(filter),
                    SnapLength = parse.GetValue(snaplen),
                    Promiscuous = parse.GetValue(promiscuous),
                    KernelBufferSize = parse.GetValue(bufferMb) is int mb ? checked(mb * 1024 * 1024) : null,
                },
                SpoolDirectory = parse.GetValue(spool) ?? DefaultSpool(),
                SpoolMaxBytes = checked(parse.GetValue(spoolMax) * 1024 * 1024),
                NodeName = parse.GetValue(node) ?? Environment.GetEnvironmentVariable("NODE_NAME") ?? Environment.MachineName,
                MetricsListen = parse.GetValue(metrics),
                IdleTimeout = TimeSpan.FromSeconds(parse.GetValue(idle)),
                FlushInterval = TimeSpan.FromSeconds(parse.GetValue(flush)),
                ProcRoot = procRoot == "none" ? null : procRoot,
                ShipFrames = !parse.GetValue(noFrames),
                FrameHoldBytes = (long)parse.GetValue(frameHold) << 20,
            };
            return RunAsync(options, parse.GetValue(k8s)!, stdout, stderr, ct, history);
        });
        return command;
    }

    private static string DefaultSpool()
    {
        if (Environment.GetEnvironmentVariable("TRAFFICSTORE_SPOOL") is { Length: > 0 } configured) return configured;
        var xdg = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        var path = Path.Combine(root, "trafficstore", "spool");
        try
        {
            Directory.CreateDirectory(path);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only root file system (the DaemonSet): the writable temp directory instead.
            return Path.Combine(Path.GetTempPath(), "trafficstore-spool");
        }
    }

    /// <summary>The identity map for <c>--k8s</c>, and the watcher to run when it is watched.</summary>
    private static (IdentityMap? Map, ClusterWatcher? Watcher, string? Problem) Identities(string mode, TimeSpan history)
    {
        try
        {
            switch (mode)
            {
                case "none":
                    return (null, null, null);
                case "auto" when !k8s.KubernetesClientConfiguration.IsInCluster():
                    return (null, null, null);
                case "auto":
                case "watch":
                {
                    var map = new IdentityMap();
                    return (map, new ClusterWatcher(ClusterWatcher.CreateClient(), map, new ClusterWatcherOptions { HistoryRetention = history }), null);
                }
                default:
                    return (KubernetesSnapshot.Load(mode), null, null);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException
                                      or System.Text.Json.JsonException or k8s.Exceptions.KubeConfigException)
        {
            return (null, null, e.Message);
        }
    }

    public static async Task<int> RunAsync(AgentOptions options, string k8sMode, TextWriter stdout, TextWriter stderr, CancellationToken ct, TimeSpan? identityHistory = null)
    {
        var (map, watcher, problem) = Identities(k8sMode, identityHistory ?? new ClusterWatcherOptions().HistoryRetention);
        if (problem is not null)
        {
            stderr.WriteLine($"trafficstore agent: --k8s {k8sMode}: {problem}");
            return CliApp.ExitUsage;
        }
        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watching = watcher?.RunAsync(watchStop.Token) ?? Task.CompletedTask;
        options = options with { Identities = map };
        try { return await RunAgentAsync(options, stdout, stderr, ct); }
        finally
        {
            watchStop.Cancel();
            try { await watching; } catch (OperationCanceledException) { }
        }
    }

    private static async Task<int> RunAgentAsync(AgentOptions options, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        NodeAgent agent;
        try { agent = new NodeAgent(options); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"trafficstore agent: cannot open the spool {options.SpoolDirectory}: {e.Message}");
            return CliApp.ExitUsage;
        }
        await using (agent)
        {
            if (agent.NewIdentity is { } why) stderr.WriteLine($"trafficstore agent: {why}");
            if (agent.PutLimitProblem is { } putLimit) stderr.WriteLine($"trafficstore agent: {putLimit}");
            var errors = agent.Start();
            foreach (var e in errors) stderr.WriteLine($"trafficstore agent: cannot capture on {e.Source}: {e.Message}");
            if (agent.Captures.Count == 0)
            {
                stderr.WriteLine("trafficstore agent: no interface could be opened (live capture needs root or CAP_NET_RAW + CAP_NET_ADMIN).");
                return CliApp.ExitUsage;
            }
            MetricsEndpoint? endpoint = null;
            if (options.MetricsListen is { } listen)
            {
                try { endpoint = new MetricsEndpoint(agent, listen); }
                catch (System.Net.HttpListenerException e)
                {
                    stderr.WriteLine($"trafficstore agent: cannot serve metrics on {listen}: {e.Message}");
                }
            }
            stdout.WriteLine($"Capturing on {string.Join(", ", agent.Captures.Select(c => $"{c.Interface} (capture {c.CaptureId})"))} as node {options.NodeName}; " +
                             $"shipping to {options.Server}, spool {options.SpoolDirectory}" + (endpoint is null ? "." : $", metrics on {endpoint.Prefix}metrics."));
            stdout.WriteLine("Stop with Ctrl+C.");
            stdout.Flush();
            try { await Task.Delay(Timeout.Infinite, ct); }
            catch (OperationCanceledException) { }
            stdout.WriteLine("Stopping: flushing the pipelines and the spool ...");
            bool drained = await agent.StopAsync(CancellationToken.None);
            if (endpoint is not null) await endpoint.DisposeAsync();
            var spool = agent.Spool;
            stdout.WriteLine(drained
                ? $"Everything shipped ({agent.Shipper.SentRows} rows acknowledged)."
                : $"{spool.PendingBatches} batches ({spool.PendingRows} rows) stay in the spool for the next start.");
            if (spool.DroppedRows > 0) stdout.WriteLine($"Dropped by the agent (spool full): {spool.DroppedRows} rows in {spool.DroppedBatches} batches.");
            return CliApp.ExitOk;
        }
    }
}
