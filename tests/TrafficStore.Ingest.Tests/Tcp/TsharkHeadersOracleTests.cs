using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tests.Oracle;
using Xunit.Abstractions;

namespace TrafficStore.Ingest.Tests.TcpAnalysis;

/// <summary>
/// Isolates the flow table and TCP analysis from our decoder: the packet headers come from tshark
/// itself (tshark -T fields), the expected rows from the oracle. Skipped when tshark is not installed.
/// </summary>
public class TsharkHeadersOracleTests
{
    private readonly ITestOutputHelper _output;

    public TsharkHeadersOracleTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void AnalysisOfTsharkDecodedHeadersMatchesTheOracle()
    {
        if (!TsharkAvailable()) return;
        var comparison = new OracleComparison();
        foreach (var name in SharedData.CaptureNames())
        {
            var oracle = OracleFile.Section(name, "tcp");
            if (oracle.Rows.Count == 0) continue;
            var rows = new ListSink<ConnectionRecord>();
            var pipeline = new IngestPipeline(rows);
            foreach (var p in ReadHeaders(SharedData.Pcap(name))) pipeline.ProcessPacket(p, ReadOnlySpan<byte>.Empty);
            pipeline.Complete();
            comparison.Compare(name, oracle, rows.Rows);
        }
        foreach (var d in comparison.Differences) _output.WriteLine(d);
        _output.WriteLine($"rows {comparison.MatchingRows}/{comparison.Rows}, fields {comparison.MatchingFields}/{comparison.Fields}");
        Assert.Empty(comparison.Differences);
    }

    /// <summary>
    /// UDP flows have no oracle section; tshark's udp.stream is the reference: same numbering, ends,
    /// packet and byte counts for every UDP flow of every capture.
    /// </summary>
    [Fact]
    public void UdpFlowsMatchTsharkUdpStreams()
    {
        if (!TsharkAvailable()) return;
        int flows = 0;
        foreach (var name in SharedData.CaptureNames())
        {
            var expected = new List<string>();
            var index = new Dictionary<string, int>();
            foreach (var line in TsharkLines(SharedData.Pcap(name)).Where(l => l.Split('\t')[17].Length > 0))
            {
                var f = line.Split('\t');
                string stream = f[17], sport = f[18], dport = f[19];
                if (!index.TryGetValue(stream, out int i))
                {
                    index[stream] = i = expected.Count;
                    expected.Add($"{stream},{sport},{dport},0,0");
                }
                var e = expected[i].Split(',');
                expected[i] = $"{e[0]},{e[1]},{e[2]},{long.Parse(e[3]) + 1},{long.Parse(e[4]) + long.Parse(f[2], CultureInfo.InvariantCulture)}";
            }
            var rows = new ListSink<ConnectionRecord>();
            using (var source = TrafficStore.Ingest.Capture.CaptureFile.Open(SharedData.Pcap(name)))
                new IngestPipeline(rows).Run(source);
            var actual = rows.Rows.Where(r => r.Transport == Transport.Udp)
                .Select(r => $"{r.Stream},{r.ClientPort},{r.ServerPort},{r.PacketsC2S + r.PacketsS2C},{r.BytesC2S + r.BytesS2C}").ToList();
            Assert.Equal(expected, actual);
            flows += actual.Count;
        }
        _output.WriteLine($"{flows} UDP flows match");
        Assert.True(flows > 100);
    }

    private static List<string> RunTshark(string pcap, params string[] args)
    {
        var psi = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        // An empty profile, so a user's preferences cannot change the dissection.
        psi.Environment["WIRESHARK_CONFIG_DIR"] = Path.Combine(Path.GetTempPath(), "trafficstore-tshark-empty-profile");
        psi.ArgumentList.Add("-r");
        psi.ArgumentList.Add(pcap);
        psi.ArgumentList.Add("-n");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi)!;
        proc.ErrorDataReceived += (_, _) => { };
        proc.BeginErrorReadLine();
        var lines = new List<string>();
        string? line;
        while ((line = proc.StandardOutput.ReadLine()) is not null) lines.Add(line);
        proc.WaitForExit();
        return lines;
    }

    private static bool TsharkAvailable()
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("tshark", "-v") { RedirectStandardOutput = true, RedirectStandardError = true });
            p!.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<List<string>>> Cache = new();

    /// <summary>One tshark run per capture (cached) with every field both tests need; TCP/UDP not quoted in ICMP errors.</summary>
    private static List<string> TsharkLines(string pcap) => Cache.GetOrAdd(pcap, p => new Lazy<List<string>>(() => RunTshark(p,
        "-o", "tcp.analyze_sequence_numbers:FALSE", "-Y", "(tcp || udp) && !icmp && !icmpv6", "-T", "fields", "-E", "occurrence=l",
        "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst",
        "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw",
        "-e", "tcp.flags", "-e", "tcp.window_size_value", "-e", "tcp.len", "-e", "tcp.options.mss_val", "-e", "tcp.options.wscale.shift",
        "-e", "frame.protocols", "-e", "udp.stream", "-e", "udp.srcport", "-e", "udp.dstport"))).Value;

    private static IEnumerable<DecodedPacket> ReadHeaders(string pcap)
    {
        var lines = TsharkLines(pcap).Where(l => l.Split('\t')[7].Length > 0);
        foreach (var l in lines)
        {
            var f = l.Split('\t');
            bool v6 = f[16].LastIndexOf("ipv6", StringComparison.Ordinal) > f[16].LastIndexOf(":ip:", StringComparison.Ordinal);
            var p = new DecodedPacket
            {
                FrameNumber = long.Parse(f[0], CultureInfo.InvariantCulture),
                TimestampNs = ParseEpochNs(f[1]),
                FrameLength = int.Parse(f[2], CultureInfo.InvariantCulture),
                Source = NetAddress.Parse(v6 ? f[5] : f[3]),
                Destination = NetAddress.Parse(v6 ? f[6] : f[4]),
                Protocol = IpProtocol.Tcp,
                SourcePort = ushort.Parse(f[7], CultureInfo.InvariantCulture),
                DestinationPort = ushort.Parse(f[8], CultureInfo.InvariantCulture),
                Sequence = uint.Parse(f[9], CultureInfo.InvariantCulture),
                Acknowledgment = uint.Parse(f[10], CultureInfo.InvariantCulture),
                Flags = (TcpFlags)Convert.ToUInt16(f[11], 16),
                Window = ushort.Parse(f[12], CultureInfo.InvariantCulture),
                PayloadLength = int.Parse(f[13], CultureInfo.InvariantCulture),
                Mss = f[14].Length > 0 ? ushort.Parse(f[14], CultureInfo.InvariantCulture) : (ushort)0,
                WindowScale = f[15].Length > 0 ? sbyte.Parse(f[15], CultureInfo.InvariantCulture) : (sbyte)-1,
                VlanId = -1,
            };
            yield return p;
        }
    }

    private static long ParseEpochNs(string s)
    {
        var parts = s.Split('.');
        return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000_000 + long.Parse(parts[1].PadRight(9, '0')[..9], CultureInfo.InvariantCulture);
    }
}
