using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tests.Oracle;
using Xunit.Abstractions;

namespace TrafficStore.Ingest.Tests.Tcp;

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

    private static IEnumerable<DecodedPacket> ReadHeaders(string pcap)
    {
        var psi = new ProcessStartInfo("tshark")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "-r", pcap, "-n", "-o", "tcp.analyze_sequence_numbers:FALSE", "-Y", "tcp && !icmp && !icmpv6", "-T", "fields",
                     "-E", "occurrence=l", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "ip.src", "-e", "ip.dst",
                     "-e", "ipv6.src", "-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw",
                     "-e", "tcp.flags", "-e", "tcp.window_size_value", "-e", "tcp.len", "-e", "tcp.options.mss_val", "-e", "tcp.options.wscale.shift",
                     "-e", "frame.protocols" })
            psi.ArgumentList.Add(a);
        using var proc = Process.Start(psi)!;
        var lines = new List<string>();
        string? line;
        while ((line = proc.StandardOutput.ReadLine()) is not null) lines.Add(line);
        proc.WaitForExit();
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
