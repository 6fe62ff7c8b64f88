using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// Every TCP and UDP packet of every corpus capture against tshark's dissection of the same frame:
/// which frames carry one (a reassembled IP datagram counts under the frame that completed it),
/// ports, sequence and acknowledgment numbers, flags, raw window, header length, tcp.len, udp.length.
/// Packets quoted inside ICMP errors are not packets (the oracle ignores them too).
/// </summary>
public class TsharkPacketFieldsTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Tcp_and_udp_headers_match_tshark(string name)
    {
        var path = SharedData.Pcap(name);
        var expected = TsharkPackets(path);

        var actual = new List<string>();
        var decoder = new PacketDecoder();
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            if (decoder.Decode(in frame, out var p, out _) != DecodeStatus.Decoded) continue;
            actual.Add(p.IsTcp
                ? Tcp(p.FrameNumber, p.SourcePort, p.DestinationPort, p.Sequence, p.Acknowledgment, (int)p.Flags, p.Window, p.TcpHeaderLength, p.PayloadLength)
                : Udp(p.FrameNumber, p.SourcePort, p.DestinationPort, p.PayloadLength + 8));
        }
        Assert.Equal(expected, actual);
    }

    private static string Tcp(long frame, int sport, int dport, uint seq, uint ack, int flags, int window, int hlen, int len) =>
        $"{frame} tcp {sport}>{dport} seq={seq} ack={ack} flags=0x{flags:x3} win={window} hlen={hlen} len={len}";

    private static string Udp(long frame, int sport, int dport, int length) => $"{frame} udp {sport}>{dport} length={length}";

    private static List<string> TsharkPackets(string path)
    {
        var psi = new ProcessStartInfo("tshark",
            ["-n", "-r", path, "-Y", "(tcp || udp) && !icmp && !icmpv6", "-T", "fields", "-E", "occurrence=l",
             "-e", "frame.number", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.seq_raw", "-e", "tcp.ack_raw",
             "-e", "tcp.flags", "-e", "tcp.window_size_value", "-e", "tcp.hdr_len", "-e", "tcp.len",
             "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["WIRESHARK_CONFIG_DIR"] = Path.Combine(Path.GetTempPath(), "trafficstore-tshark-empty-profile");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var result = new List<string>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            var f = line.Split('\t');
            long frame = long.Parse(f[0], CultureInfo.InvariantCulture);
            if (f[1].Length > 0)
                result.Add(Tcp(frame, I(f[1]), I(f[2]), uint.Parse(f[3], CultureInfo.InvariantCulture), uint.Parse(f[4], CultureInfo.InvariantCulture),
                    Convert.ToInt32(f[5], 16), I(f[6]), I(f[7]), I(f[8])));
            else
                result.Add(Udp(frame, I(f[9]), I(f[10]), I(f[11])));
        }
        process.WaitForExit();
        _ = stderr.Result;
        return result;
    }

    private static int I(string s) => int.Parse(s, CultureInfo.InvariantCulture);
}
