using System.Globalization;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Ingest;

/// <summary>Runs `trafficstore` commands in-process against a temporary store directory.</summary>
internal sealed class CliStore : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "ts-cli-" + Guid.NewGuid().ToString("N"));

    public (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run([.. args, "--store", Path.Combine(Dir, "store")], stdout, stderr, stderrIsTerminal: false);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}

public class IngestCommandTests
{
    [Fact]
    public void IngestThenQueryPrintsTheStoredRows()
    {
        using var store = new CliStore();
        var (exit, output, error) = store.Run("ingest", SharedData.Pcap("http11-chunked-gzip-multi-conn.pcap"));
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("capture 1:", output);

        var oracle = OracleFile.Section("http11-chunked-gzip-multi-conn.pcap", "http");
        (exit, output, error) = store.Run("query", "--table", "http", "--select", "method,uri,status", "--format", "csv");
        Assert.Equal(0, exit);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.Equal("method,uri,status", lines[0]);
        Assert.Equal(oracle.Rows.Count, lines.Length - 1);
        Assert.Equal(oracle.Rows.Select(r => r["status"]).Order(), lines.Skip(1).Select(l => l.Split(',')[2]).Order());

        // The text form of the same query, and a JSON line per row.
        (exit, output, _) = store.Run("query", "http where status=200 select status limit 2", "--format", "json");
        Assert.Equal(0, exit);
        Assert.Equal(["{\"status\":200}", "{\"status\":200}"], output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void CorruptCaptureKeepsWhatWasReadAndExitsTwo()
    {
        const string capture = "corrupt-cut-short-pgsql.pcap";
        long expectedFrames = CountFrames(SharedData.Pcap(capture), out var readError);
        Assert.NotNull(readError);
        using var store = new CliStore();
        var (exit, _, error) = store.Run("ingest", SharedData.Pcap(capture));
        Assert.Equal(2, exit);
        Assert.Contains(capture, error);
        Assert.Contains($"byte offset {readError!.ByteOffset}", error);
        var (_, output, _) = store.Run("query", "packets select frame", "--format", "csv");
        Assert.Equal(expectedFrames, output.TrimEnd('\n').Split('\n').Length - 1);
        (_, output, _) = store.Run("query", "capture_stats where state=error select error_offset", "--format", "csv");
        Assert.Equal($"error_offset\n{readError.ByteOffset}\n", output);
    }

    [Fact]
    public void UnknownTableAndMissingFileAreUsageErrors()
    {
        using var store = new CliStore();
        Directory.CreateDirectory(Path.Combine(store.Dir, "store")); // an empty store (a missing one is its own error)
        var (exit, _, error) = store.Run("query", "--table", "nosuch");
        Assert.Equal(1, exit);
        Assert.Contains("unknown table 'nosuch'", error);
        (exit, _, error) = store.Run("ingest", "/nonexistent.pcap");
        Assert.Equal(1, exit);
        Assert.Contains("no such file", error);
    }

    private static long CountFrames(string path, out CaptureError? error)
    {
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        long n = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) n++;
        error = source.Error;
        return n;
    }
}
