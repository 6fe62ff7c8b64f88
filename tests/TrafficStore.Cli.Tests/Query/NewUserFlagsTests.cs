using Apache.Arrow.Ipc;
using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Query;

/// <summary>
/// Flags and messages a new user following README.md and docs/ expected (review 2026-11-26): each test failed
/// before its fix.
/// </summary>
public class NewUserFlagsTests
{
    private const string Capture = "http11-chunked-gzip-multi-conn.pcap";

    /// <summary>The flag form could not say "order by" (the text form could): --order-by COL [--desc].</summary>
    [Fact]
    public void QueryOrderByFlagsGiveTheTopRows()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(Capture)).Exit);
        var (exit, output, error) = store.Run("query", "--table", "http", "--select", "status", "--order-by", "status", "--desc", "--limit", "3", "--format", "csv");
        Assert.True(exit == 0, error);
        var expected = OracleFile.Section(Capture, "http").Rows.Select(r => int.Parse(r["status"])).OrderDescending().Take(3);
        Assert.Equal(expected, output.TrimEnd('\n').Split('\n').Skip(1).Select(int.Parse));

        (exit, _, error) = store.Run("query", "--table", "http", "--desc");
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("--desc goes with --order-by", error);
    }

    /// <summary>`export arrow` took only --table and filters; `query`'s text (and JSON) form works there too now.</summary>
    [Fact]
    public void ExportArrowTakesAQueryText()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(Capture)).Exit);
        var arrow = Path.Combine(store.Dir, "ok.arrow");
        var (exit, output, error) = store.Run("export", "arrow", "http where status=200 select status, uri", "-o", arrow);
        Assert.True(exit == 0, error);
        using var reader = new ArrowFileReader(File.OpenRead(arrow));
        long rows = 0;
        while (reader.ReadNextRecordBatch() is { } b)
        {
            rows += b.Length;
            Assert.Equal(["status", "uri"], b.Schema.FieldsList.Select(f => f.Name));
        }
        Assert.Equal(OracleFile.Section(Capture, "http").Rows.Count(r => r["status"] == "200"), rows);
        Assert.Contains($"{rows} rows", output);

        (exit, _, error) = store.Run("export", "arrow", "http", "--table", "dns", "-o", arrow);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("not both", error);
    }

    /// <summary>`export pcap --from T` was refused ("a window with --from and --to"); --to now defaults to now, as in `query ... from T`.</summary>
    [Fact]
    public void ExportPcapFromAloneRunsToNow()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(Capture)).Exit);
        var pcap = Path.Combine(store.Dir, "all.pcap");
        var (exit, _, error) = store.Run("export", "pcap", "--from", "2000-01-01T00:00:00Z", "-o", pcap);
        Assert.True(exit == 0, error);
        Assert.Equal(Frames(SharedData.Pcap(Capture)), Frames(pcap));
    }

    /// <summary>An id that is not in the store wrote an empty capture and said only "0 frames"; now it says why.</summary>
    [Fact]
    public void ExportPcapOfAnUnknownConnectionWarns()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(Capture)).Exit);
        var (exit, output, error) = store.Run("export", "pcap", "--connection", "42", "-o", Path.Combine(store.Dir, "c.pcap"));
        Assert.Equal(CliApp.ExitOk, exit);
        Assert.Contains("0 frames", output);
        Assert.Contains("warning: no frames of connection 42 in the store", error);
        Assert.Contains("connections.connection_id", error);
    }

    /// <summary>
    /// A file that is no capture at all is refused before anything is stored: the error names the file and its first
    /// bytes, no capture id is taken (the next capture is capture 1) and the other files are still ingested.
    /// </summary>
    [Fact]
    public void IngestOfANonCaptureIsRefusedAndStoresNothing()
    {
        using var store = new CliStore();
        var notes = SharedData.Pcap("SOURCES.md");
        var (exit, output, error) = store.Run("ingest", notes, SharedData.Pcap(Capture));
        Assert.Equal(CliApp.ExitCaptureError, exit);
        Assert.Contains($"{notes}: not a pcap or pcapng file: its first bytes are ", error);
        Assert.Contains("text; nothing was stored", error);
        Assert.DoesNotContain(notes + ": capture", output);
        Assert.Contains(": capture 1: ", output); // the refused file took no id
    }

    /// <summary>A mistyped --store (or a query before the first ingest) made a new empty store and answered "0 rows".</summary>
    [Fact]
    public void ReadingAStoreThatDoesNotExistIsAnError()
    {
        using var store = new CliStore();
        foreach (var args in new[] { new[] { "stats" }, ["query", "http"], ["retention", "list"], ["export", "arrow", "--table", "dns", "-o", Path.Combine(store.Dir, "x.arrow")] })
        {
            var (exit, _, error) = store.Run(args);
            Assert.Equal(CliApp.ExitUsage, exit);
            Assert.Contains("no store at", error);
        }
        Assert.False(Directory.Exists(Path.Combine(store.Dir, "store")));
        // Setting the policy before the first ingest still works: it creates the store.
        Assert.Equal(CliApp.ExitOk, store.Run("retention", "set", "--max-age", "7d").Exit);
        Assert.Equal(CliApp.ExitOk, store.Run("stats").Exit);
    }

    /// <summary>No server at the address: "the server answered Unavailable: Error connecting to subchannel." said nothing of what to check.</summary>
    [Fact]
    public void AnUnreachableServerIsNamedAsSuch()
    {
        // A port nothing listens on for the whole test: bound, never listening (a port found free and released again can
        // be taken by a server of a test running in parallel).
        using var refusing = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        refusing.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        int port = ((System.Net.IPEndPoint)refusing.LocalEndPoint!).Port;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(["query", "http", "--server", $"grpc://127.0.0.1:{port}", "--token", "some-token-of-16-chars"], stdout, stderr);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("cannot reach the server", stderr.ToString());
    }

    /// <summary>A --k8s-snapshot that is not JSON was "internal error: JsonReaderException" (ingest and inspect).</summary>
    [Fact]
    public void ASnapshotThatIsNotJsonIsAUsageError()
    {
        using var store = new CliStore();
        var notJson = SharedData.Pcap("SOURCES.md");
        var (exit, _, error) = store.Run("ingest", SharedData.Pcap(Capture), "--k8s-snapshot", notJson);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains($"--k8s-snapshot {notJson}: not a kubectl JSON snapshot", error);
        Assert.DoesNotContain("internal error", error);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        exit = CliApp.Run(["inspect", SharedData.Pcap(Capture), "--k8s-snapshot", notJson], stdout, stderr);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("not a kubectl JSON snapshot", stderr.ToString());
    }

    private static long Frames(string path)
    {
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        long n = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) n++;
        return n;
    }
}
