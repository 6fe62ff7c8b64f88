using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// `export pcap` of a connection gives exactly the frames tshark assigns to that tcp.stream, byte for
/// byte with the same timestamps and original lengths. For every TCP stream of every capture the
/// frame numbers come from one `tshark -T fields -e frame.number -e tcp.stream` run; for one stream per
/// capture the frames are also compared with `tshark -Y "tcp.stream==N" -w`.
/// </summary>
public class PcapExportTests
{
    public static TheoryData<string> TcpCaptures()
    {
        var data = new TheoryData<string>();
        foreach (var name in new[]
        {
            "http11-chunked-gzip-multi-conn.pcap", "tcp-retrans-fastretrans-dupack.pcap", "ipv6-http.pcap", "grpc-unary-h2c.pcapng",
            "sll-nanosec-tcp-handshake.pcap", "tcp-midstream-missing-syn.pcap", "ipv6-rawip-4-http-streams.pcap", "pcapng-many-interfaces.pcapng",
            "mixed-large-many-protocols.pcap", "corrupt-cut-short-pgsql.pcap", "vlan-double-tagged-http.pcap", "ipfrag-http-request.pcap",
        })
            if (File.Exists(Pcap(name))) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(TcpCaptures))]
    public async Task ExportOfEachConnectionIsItsFramesAsCaptured(string capture)
    {
        var path = Pcap(capture);
        var original = ReadFrames(path).ToDictionary(f => f.Number);
        var streams = TsharkStreams(path);
        Assert.NotEmpty(streams);

        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var summary = await new CaptureIngestor(db).IngestFileAsync(path);
        await using var client = new LocalTrafficClient(db);

        foreach (var (stream, frameNumbers) in streams)
        {
            var exported = await Export(client, StoreIds.Global(summary.CaptureId, stream), dir.Path);
            var expected = frameNumbers.Select(n => original[n]).ToList();
            AssertSameFrames(expected, exported, $"{capture} tcp.stream {stream}");
        }

        // One stream through tshark's own writer.
        var (first, _) = streams.First();
        var tsharkFile = Path.Combine(dir.Path, "tshark.pcapng");
        Run("tshark", "-r", path, "-Y", $"tcp.stream=={first}", "-w", tsharkFile);
        AssertSameFrames(ReadFrames(tsharkFile), await Export(client, StoreIds.Global(summary.CaptureId, first), dir.Path), $"{capture} tshark -w stream {first}");
    }

    internal static async Task<List<Frame>> Export(ITrafficClient client, long connectionId, string dir)
    {
        var file = Path.Combine(dir, $"export-{connectionId}.pcap");
        await using (var output = File.Create(file))
            await client.ExportPcapAsync(new PcapExportRequest { ConnectionId = connectionId }, output);
        return ReadFrames(file);
    }

    internal static void AssertSameFrames(List<Frame> expected, List<Frame> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} frames exported, expected {expected.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].TimestampNs == actual[i].TimestampNs, $"{what}: frame {i} timestamp");
            Assert.True(expected[i].OriginalLength == actual[i].OriginalLength, $"{what}: frame {i} original length");
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"{what}: frame {i} bytes");
        }
    }

    internal sealed record Frame(long Number, long TimestampNs, int OriginalLength, byte[] Data);

    internal static List<Frame> ReadFrames(string path)
    {
        var frames = new List<Frame>();
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            frames.Add(new Frame(frame.Number, frame.TimestampNs, frame.OriginalLength, frame.Data.ToArray()));
        return frames;
    }

    /// <summary>tcp.stream → frame numbers, as tshark assigns them.</summary>
    private static SortedDictionary<long, List<long>> TsharkStreams(string path)
    {
        var streams = new SortedDictionary<long, List<long>>();
        foreach (var line in Run("tshark", "-r", path, "-T", "fields", "-e", "frame.number", "-e", "tcp.stream").Split('\n'))
        {
            var parts = line.Trim().Split('\t');
            if (parts.Length < 2 || parts[1].Length == 0) continue;
            long stream = long.Parse(parts[1], CultureInfo.InvariantCulture);
            if (!streams.TryGetValue(stream, out var list)) streams[stream] = list = new List<long>();
            list.Add(long.Parse(parts[0], CultureInfo.InvariantCulture));
        }
        return streams;
    }

    private static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        // tshark exits 2 on a capture cut short after printing what it read; that output is still valid.
        if (p.ExitCode is not 0 and not 2) throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
