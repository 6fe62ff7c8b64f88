using System.CommandLine;
using TrafficStore.Cli.Query;
using TrafficStore.Store.Client;
using TrafficStore.Store.Client.Export;
using TrafficStore.Store.Query;

namespace TrafficStore.Cli.Export;

/// <summary>
/// `trafficstore export pcap (--connection ID | --pod NAME [--namespace NS] | --from T --to T) [--format auto|pcap|pcapng] [--max-bytes N] -o FILE|-`
/// and `trafficstore export arrow ["QUERY" | --table T [filters]] -o FILE.arrow` (Arrow IPC file format).
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
        var to = new Option<string?>("--to") { Description = "Frames before this time (default with --from: now)." };
        var format = new Option<string>("--format")
        {
            Description = "auto (classic pcap unless the frames have several link types, then pcapng), pcap (refused for mixed link types) or pcapng (one interface per capture interface and link type).",
            DefaultValueFactory = _ => "auto",
        };
        format.AcceptOnlyFromAmong("auto", "pcap", "pcapng");
        var maxBytes = new Option<long?>("--max-bytes") { Description = "Stop with an error rather than write a larger file (a server applies its own limit too)." };
        var output = new Option<string>("--output", "-o") { Description = "File to write; - writes the file to standard output (the summary goes to standard error).", Required = true };
        var spillDir = new Option<string?>("--spill-dir") { Description = "Where an export merging more than 32 overlapping captures puts its temp files (as large as the export); default: tmp/ in the store. Not with --server (the server has its own)." };
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var command = new Command("pcap", "Write captured frames, byte-identical and in time order (several captures merged by timestamp, each in its capture order), to a pcap or pcapng file (nanosecond timestamps). Streams: memory stays bounded whatever the export's size.")
            { connection, pod, ns, from, to, format, maxBytes, output, spillDir, store, server };
        command.SetAction(parse => CliErrors.Guard("export pcap", stderr, () =>
        {
            long now = QueryTime.NowNs();
            var request = new PcapExportRequest
            {
                ConnectionId = parse.GetValue(connection),
                Pod = parse.GetValue(pod),
                Namespace = parse.GetValue(ns),
                FromNs = parse.GetValue(from) is { } f ? QueryTime.Parse(f, now) : null,
                // --from alone is "from then until now", as `query ... from -1h` is.
                ToNs = parse.GetValue(to) is { } t ? QueryTime.Parse(t, now) : parse.GetValue(from) is null ? null : now,
                Format = parse.GetValue(format) switch { "pcap" => PcapExportFormat.Pcap, "pcapng" => PcapExportFormat.PcapNg, _ => PcapExportFormat.Auto },
                MaxBytes = parse.GetValue(maxBytes),
            };
            if (request.ConnectionId is not null && request.Pod is not null) throw new CliUsageException("give --connection or --pod, not both");
            if (request.Namespace is not null && request.Pod is null) throw new CliUsageException("--namespace goes with --pod");
            if (request.ConnectionId is null && request.Pod is null && (request.FromNs is null || request.ToNs is null))
                throw new CliUsageException("give --connection ID, --pod NAME, or a window with --from (and --to, default now)");
            if (request.MaxBytes is < 0) throw new CliUsageException("--max-bytes must not be negative");
            var path = parse.GetValue(output)!;
            bool toStdout = path == "-";
            if (parse.GetValue(spillDir) is not null && parse.GetValue(server) is not null)
                throw new CliUsageException("--spill-dir is for a local store: a server puts its temp files where `serve --export-spill-dir` says");
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server),
                exportOptions: parse.GetValue(spillDir) is { } dir ? new PcapExportOptions { SpillDirectory = Path.GetFullPath(dir) } : null));
            PcapExportSummary summary;
            if (toStdout)
            {
                summary = client.Value.ExportPcapAsync(request, BinaryStdout(stdout)).GetAwaiter().GetResult();
            }
            else
            {
                try
                {
                    using var file = File.Create(path);
                    summary = client.Value.ExportPcapAsync(request, file).GetAwaiter().GetResult();
                }
                catch
                {
                    File.Delete(path); // an incomplete capture file would pass for the whole export
                    throw;
                }
            }
            foreach (var w in summary.Warnings) stderr.WriteLine($"trafficstore export pcap: warning: {w}");
            // An id that is not in the store (or not visible to the token) selects nothing: say so, not just "0 frames".
            if (summary.Frames == 0 && request.ConnectionId is { } id)
                stderr.WriteLine($"trafficstore export pcap: warning: no frames of connection {id} in the store{(request.FromNs is null ? "" : " in that window")} " +
                                 "(ids are connections.connection_id, e.g. trafficstore query \"connections from -1h select connection_id, client_ip, server_ip\")");
            var formatName = summary.Format == PcapExportFormat.PcapNg ? "pcapng" : "pcap";
            var linkTypes = summary.LinkTypes.Count > 0 ? string.Join(", ", summary.LinkTypes) : summary.LinkType.ToString(System.Globalization.CultureInfo.InvariantCulture);
            (toStdout ? stderr : stdout).WriteLine(
                $"{(toStdout ? "stdout" : path)}: {summary.Frames} frames, {summary.Bytes} bytes ({formatName}, link type{(summary.LinkTypes.Count > 1 ? "s" : "")} {linkTypes})");
            return CliApp.ExitOk;
        }));
        return command;
    }

    /// <summary>
    /// The byte stream under the command's standard output: the process's own when it is the console writer,
    /// or the stream under a <see cref="StreamWriter"/> (tests), flushed first so text and bytes keep their order.
    /// </summary>
    private static Stream BinaryStdout(TextWriter stdout)
    {
        stdout.Flush();
        if (stdout is StreamWriter { BaseStream: var s }) return s;
        if (ReferenceEquals(stdout, Console.Out)) return Console.OpenStandardOutput();
        throw new CliUsageException("-o - needs a binary standard output; give a file name");
    }

    private static Command BuildArrow(TextWriter stdout, TextWriter stderr)
    {
        var filters = new QueryFilterOptions();
        var output = new Option<string>("--output", "-o") { Description = "Arrow IPC file to write.", Required = true };
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var text = new Argument<string?>("query") { Description = "A query in the text or JSON form of docs/query-language.md (or --table and the other options).", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("arrow", "Write the rows of a query to an Arrow IPC file.") { text, output, store, server };
        filters.AddTo(command);
        command.SetAction(parse => CliErrors.Guard("export arrow", stderr, () =>
        {
            var query = filters.Resolve(parse, parse.GetValue(text));
            var path = parse.GetValue(output)!;
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            var result = client.Value.QueryAsync(query).GetAwaiter().GetResult();
            long rows = ArrowFileExport.Write(result, path, stale => stderr.WriteLine($"trafficstore export arrow: removed {stale}, left by an export that was killed"));
            foreach (var w in result.Warnings) stderr.WriteLine($"trafficstore export arrow: warning: {w}");
            stdout.WriteLine($"{path}: {rows} rows");
            return CliApp.ExitOk;
        }));
        return command;
    }
}
