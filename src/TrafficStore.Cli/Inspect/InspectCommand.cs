using System.CommandLine;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Cli.Inspect;

/// <summary>`trafficstore inspect FILE [--table connections] [--format table|csv|json] [--transport tcp|udp|all]`.</summary>
public static class InspectCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr, bool stderrIsTerminal)
    {
        var file = new Argument<string>("file") { Description = "A pcap or pcapng capture file." };
        var table = new Option<string>("--table")
        {
            Description = "Table to print: " + string.Join(", ", InspectTables.Names) + ".",
            DefaultValueFactory = _ => "connections",
        };
        var format = new Option<string>("--format")
        {
            Description = "Output format: table (aligned text), csv or json (one object per line).",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var transport = new Option<string>("--transport")
        {
            Description = "Connections to list: tcp, udp or all.",
            DefaultValueFactory = _ => "tcp",
        };
        transport.AcceptOnlyFromAmong("tcp", "udp", "all");
        var showPayloads = new Option<bool>("--show-payloads")
        {
            Description = "With --table http: print each exchange's headers and bodies instead of the table.",
        };
        var includeMdns = new Option<bool>("--include-mdns")
        {
            Description = "With --table dns: also list mDNS and LLMNR transactions (marked in the variant column).",
        };
        var snapshot = new Option<string?>("--k8s-snapshot") { Description = "kubectl get ... -o json snapshot: fills the client_*/server_* Kubernetes columns of connection rows." };
        var command = new Command("inspect", "Decode a capture file offline and print one of its tables.") { file, table, format, transport, showPayloads, includeMdns, snapshot };
        command.SetAction(parse => Execute(parse.GetValue(file)!, parse.GetValue(table)!,
            Enum.Parse<OutputFormat>(parse.GetValue(format)!, ignoreCase: true), Enum.Parse<TransportFilter>(parse.GetValue(transport)!, ignoreCase: true),
            stdout, stderr, stderrIsTerminal, parse.GetValue(snapshot),
            new InspectExtras { ShowPayloads = parse.GetValue(showPayloads), IncludeMdns = parse.GetValue(includeMdns) }));
        return command;
    }

    public static int Execute(string path, string tableName, OutputFormat format, TransportFilter transport,
        TextWriter stdout, TextWriter stderr, bool stderrIsTerminal, string? k8sSnapshot = null, InspectExtras? extras = null)
    {
        if (!InspectTables.TryCreate(tableName, out var table))
        {
            stderr.WriteLine($"trafficstore inspect: unknown table '{tableName}' (available: {string.Join(", ", InspectTables.Names)}).");
            return CliApp.ExitUsage;
        }
        table.Extras = extras ?? new InspectExtras();
        if (!File.Exists(path))
        {
            stderr.WriteLine($"trafficstore inspect: {path}: no such file.");
            return CliApp.ExitUsage;
        }

        var connections = new ListSink<ConnectionRecord>();
        IngestResult result;
        try
        {
            using var source = CaptureFile.Open(path);
            var options = new IngestOptions
            {
                Progress = stderrIsTerminal ? frames => stderr.Write($"\r{path}: {frames} frames") : null,
            };
            result = new IngestPipeline(connections, table.StreamProtocols, table.DatagramProtocols, options).Run(source);
            if (stderrIsTerminal) stderr.WriteLine();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"trafficstore inspect: {path}: {e.Message}");
            return CliApp.ExitUsage;
        }

        if (k8sSnapshot is not null)
        {
            if (!File.Exists(k8sSnapshot))
            {
                stderr.WriteLine($"trafficstore inspect: {k8sSnapshot}: no such file.");
                return CliApp.ExitUsage;
            }
            try { SnapshotEnrichment.Enrich(connections.Rows, k8sSnapshot); }
            catch (Query.CliUsageException e)
            {
                stderr.WriteLine($"trafficstore inspect: {e.Message}");
                return CliApp.ExitUsage;
            }
        }
        table.Write(stdout, format, transport, connections.Rows);
        stdout.Flush();
        if (result.Error is { } error)
        {
            stderr.WriteLine($"trafficstore inspect: {error}");
            return CliApp.ExitCaptureError;
        }
        return CliApp.ExitOk;
    }
}
