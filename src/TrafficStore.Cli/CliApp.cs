using System.CommandLine;
using TrafficStore.Cli.Agent;
using TrafficStore.Cli.Export;
using TrafficStore.Cli.Ingest;
using TrafficStore.Cli.Inspect;
using TrafficStore.Cli.Query;
using TrafficStore.Cli.Retention;
using TrafficStore.Cli.Serve;
using TrafficStore.Cli.Stats;

namespace TrafficStore.Cli;

/// <summary>
/// The `trafficstore` command line. Exit codes: 0 ok; 1 usage error, file not found or unreadable;
/// 2 the capture could not be read to its end (what was decoded before is still printed).
/// </summary>
public static class CliApp
{
    public const int ExitOk = 0;
    public const int ExitUsage = 1;
    public const int ExitCaptureError = 2;

    public static RootCommand Build(TextWriter stdout, TextWriter stderr, bool stderrIsTerminal)
    {
        var root = new RootCommand("TrafficStore: a traffic-history database for Kubernetes.");
        root.Subcommands.Add(InspectCommand.Build(stdout, stderr, stderrIsTerminal));
        root.Subcommands.Add(IngestCommand.Build(stdout, stderr, stderrIsTerminal));
        root.Subcommands.Add(QueryCommand.Build(stdout, stderr));
        root.Subcommands.Add(ExportCommand.Build(stdout, stderr));
        root.Subcommands.Add(RetentionCommand.Build(stdout, stderr));
        root.Subcommands.Add(StatsCommand.Build(stdout, stderr));
        root.Subcommands.Add(ServeCommand.Build(stdout, stderr));
        root.Subcommands.Add(AgentCommand.Build(stdout, stderr));
        // Last, after every command: `--server URL [--token T]` goes through the Flight client.
        ServerAccess.Register(root);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; never lets an exception escape.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool stderrIsTerminal = false)
    {
        try
        {
            var root = Build(stdout, stderr, stderrIsTerminal);
            var config = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false,
                // Ctrl+C / SIGTERM cancel the command; `serve` finishes calls in flight and flushes the store,
                // `agent` drains its pipeline and spool: the default 2 s would cut that short.
                ProcessTerminationTimeout = TimeSpan.FromSeconds(30) };
            return ServerAccess.WithClientOptions(root.Parse(args)).Invoke(config);
        }
        catch (Exception e)
        {
            stderr.WriteLine($"trafficstore: internal error: {e.GetType().Name}: {e.Message}");
            return ExitUsage;
        }
    }
}
