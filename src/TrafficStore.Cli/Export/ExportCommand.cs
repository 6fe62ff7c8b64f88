using System.CommandLine;
using Apache.Arrow.Ipc;
using TrafficStore.Cli.Query;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;

namespace TrafficStore.Cli.Export;

/// <summary>
/// `trafficstore export pcap (--connection ID | --pod NAME [--namespace NS] | --from T --to T) -o FILE`
/// and `trafficstore export arrow --table T [filters] -o FILE.arrow` (Arrow IPC file format).
/// </summary>
public static class ExportCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var export = new Command("export", "Export frames as pcap or rows as Arrow IPC files.");
        export.Subcommands.Add(BuildPcap(stdout, stderr));
        export.Subcommands.Add(BuildArrow(stdout, stderr));
        return export;
    }

    private static Command BuildPcap(TextWriter stdout, TextWriter stderr)
    {
        var connection = new Option<long?>("--connection") { Description = "Store-wide connection id (connections.connection_id)." };
        var pod = new Option<string?>("--pod") { Description = "Every connection where either end is this pod." };
        var ns = new Option<string?>("--namespace") { Description = "With --pod: the pod's namespace." };
        var from = new Option<string?>("--from") { Description = "Frames at or after this time." };
        var to = new Option<string?>("--to") { Description = "Frames before this time." };
        var output = new Option<string>("--output", "-o") { Description = "pcap file to write.", Required = true };
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var command = new Command("pcap", "Write captured frames, byte-identical, to a pcap file (nanosecond timestamps).") { connection, pod, ns, from, to, output, store, server };
        command.SetAction(parse => CliErrors.Guard("export pcap", stderr, () =>
        {
            long now = QueryTime.NowNs();
            var request = new PcapExportRequest
            {
                ConnectionId = parse.GetValue(connection),
                Pod = parse.GetValue(pod),
                Namespace = parse.GetValue(ns),
                FromNs = parse.GetValue(from) is { } f ? QueryTime.Parse(f, now) : null,
                ToNs = parse.GetValue(to) is { } t ? QueryTime.Parse(t, now) : null,
            };
            if (request.ConnectionId is not null && request.Pod is not null) throw new CliUsageException("give --connection or --pod, not both");
            if (request.Namespace is not null && request.Pod is null) throw new CliUsageException("--namespace goes with --pod");
            if (request.ConnectionId is null && request.Pod is null && (request.FromNs is null || request.ToNs is null))
                throw new CliUsageException("give --connection ID, --pod NAME, or a window with --from and --to");
            var path = parse.GetValue(output)!;
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            PcapExportSummary summary;
            using (var file = File.Create(path))
                summary = client.Value.ExportPcapAsync(request, file).GetAwaiter().GetResult();
            foreach (var w in summary.Warnings) stderr.WriteLine($"trafficstore export pcap: warning: {w}");
            stdout.WriteLine($"{path}: {summary.Frames} frames, {summary.Bytes} bytes (link type {summary.LinkType})");
            return CliApp.ExitOk;
        }));
        return command;
    }

    private static Command BuildArrow(TextWriter stdout, TextWriter stderr)
    {
        var filters = new QueryFilterOptions();
        var output = new Option<string>("--output", "-o") { Description = "Arrow IPC file to write.", Required = true };
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var command = new Command("arrow", "Write the rows of a query to an Arrow IPC file.") { output, store, server };
        filters.AddTo(command);
        command.SetAction(parse => CliErrors.Guard("export arrow", stderr, () =>
        {
            var query = filters.ToText(parse);
            var path = parse.GetValue(output)!;
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            var result = client.Value.QueryAsync(query).GetAwaiter().GetResult();
            long rows = 0;
            using (var file = File.Create(path))
            using (var writer = new ArrowFileWriter(file, result.Schema))
            {
                writer.WriteStart();
                var e = result.Batches.GetAsyncEnumerator();
                try
                {
                    while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                    {
                        writer.WriteRecordBatch(e.Current);
                        rows += e.Current.Length;
                    }
                }
                finally { e.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
                writer.WriteEnd();
            }
            foreach (var w in result.Warnings) stderr.WriteLine($"trafficstore export arrow: warning: {w}");
            stdout.WriteLine($"{path}: {rows} rows");
            return CliApp.ExitOk;
        }));
        return command;
    }
}
