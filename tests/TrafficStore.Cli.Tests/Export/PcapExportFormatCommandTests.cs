using System.Diagnostics;
using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Export;

/// <summary>`export pcap --format`, `-o -` and `--max-bytes`.</summary>
public class PcapExportFormatCommandTests
{
    private static readonly string[] AllTime = ["--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"];

    private static List<(long Ts, LinkType Link, string Hex)> Frames(Stream file)
    {
        var frames = new List<(long, LinkType, string)>();
        using var source = CaptureFile.Open(file, "export");
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            frames.Add((frame.TimestampNs, frame.LinkType, Convert.ToHexString(frame.Data)));
        return frames;
    }

    private static List<(long Ts, LinkType Link, string Hex)> Frames(string path)
    {
        using var file = File.OpenRead(path);
        return Frames(file);
    }

    [Fact]
    public void MixedLinkTypesAreWrittenAsPcapNgAndRefusedAsPcap()
    {
        const string capture = "pcapng-many-interfaces.pcapng";
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(capture)).Exit);

        var path = Path.Combine(store.Dir, "all.pcapng");
        var (exit, output, error) = store.Run(["export", "pcap", .. AllTime, "-o", path]);
        Assert.True(exit == 0, error);
        Assert.Contains("64 frames", output);
        Assert.Contains("pcapng, link types 0, 1", output);
        Assert.Equal(Frames(SharedData.Pcap(capture)), Frames(path));
        var psi = new ProcessStartInfo("capinfos", ["-M", path]) { RedirectStandardOutput = true };
        using (var p = Process.Start(psi)!)
        {
            var info = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
            Assert.Contains("Number of interfaces in file: 2", info);
        }

        var refused = Path.Combine(store.Dir, "all.pcap");
        (exit, _, error) = store.Run(["export", "pcap", .. AllTime, "--format", "pcap", "-o", refused]);
        Assert.Equal(1, exit);
        Assert.Contains("several link types", error);
        Assert.Contains("--format pcapng", error);
        Assert.False(File.Exists(refused), "no partial file is left behind");

        (exit, _, error) = store.Run(["export", "pcap", .. AllTime, "--format", "erf", "-o", refused]);
        Assert.Equal(1, exit);
    }

    [Fact]
    public void DashWritesTheCaptureToStandardOutputAndTheSummaryToStandardError()
    {
        const string capture = "http11-chunked-gzip-multi-conn.pcap";
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(capture)).Exit);

        using var stdout = new MemoryStream();
        var stderr = new StringWriter();
        using (var writer = new StreamWriter(stdout, leaveOpen: true))
        {
            int exit = CliApp.Run(["export", "pcap", .. AllTime, "-o", "-", "--store", Path.Combine(store.Dir, "store")], writer, stderr);
            Assert.True(exit == 0, stderr.ToString());
        }
        stdout.Position = 0;
        var expected = Frames(SharedData.Pcap(capture));
        Assert.Equal(expected, Frames(stdout));
        Assert.Contains($"stdout: {expected.Count} frames", stderr.ToString());
    }

    private static string Tool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} failed: {p.StandardError.ReadToEnd()}");
        return output;
    }

    /// <summary>
    /// Two captures overlapping in time (the second is the first shifted by 10 µs) ingested together and exported in
    /// one window: the file is in time order — the frames mergecap interleaves, given the files in reverse ingest order
    /// (on equal timestamps it takes the last input; the export, the first ingested capture).
    /// </summary>
    [Theory]
    [InlineData("pcap")]
    [InlineData("pcapng")]
    public void CapturesOverlappingInTimeAreExportedMergedByTimestamp(string format)
    {
        using var store = new CliStore();
        Directory.CreateDirectory(store.Dir);
        var input = SharedData.Pcap("http11-chunked-gzip-multi-conn.pcap");
        var shifted = Path.Combine(store.Dir, "shifted.pcap");
        Tool("editcap", "-F", "pcap", "-t", "0.00001", input, shifted);
        var (exit, _, error) = store.Run("ingest", input, shifted);
        Assert.True(exit == 0, error);

        var path = Path.Combine(store.Dir, "both." + format);
        (exit, _, error) = store.Run(["export", "pcap", .. AllTime, "--format", format, "-o", path]);
        Assert.True(exit == 0, error);
        var frames = Frames(path);
        Assert.Equal(frames.Select(f => f.Ts).Order(), frames.Select(f => f.Ts));
        var merged = Path.Combine(store.Dir, "mergecap.pcapng");
        Tool("mergecap", "-w", merged, shifted, input);
        Assert.Equal(Frames(merged), frames);
        Assert.Contains("Strict time order:   True", Tool("capinfos", "-o", path));
    }

    [Fact]
    public void MaxBytesStopsTheExportAndRemovesThePartialFile()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap("http11-chunked-gzip-multi-conn.pcap")).Exit);
        var path = Path.Combine(store.Dir, "capped.pcap");
        var (exit, _, error) = store.Run(["export", "pcap", .. AllTime, "--max-bytes", "1000", "-o", path]);
        Assert.Equal(1, exit);
        Assert.Contains("limit of 1000 bytes", error);
        Assert.False(File.Exists(path));
    }
}
