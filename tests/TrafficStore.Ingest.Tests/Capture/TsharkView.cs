using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>
/// tshark's reading of a corpus capture, one tshark run per capture (cached), shared by the
/// frame-metadata, packet-header and fragment tests: tshark is the independent reference.
/// </summary>
internal static class TsharkView
{
    internal sealed record Frame(
        long Number, long TimestampNs, int Length, int CapturedLength, int InterfaceId, string[] Protocols,
        bool HasTcp, int TcpSourcePort, int TcpDestinationPort, uint TcpSequence, uint TcpAcknowledgment, int TcpFlags,
        int TcpWindow, int TcpHeaderLength, int TcpLength,
        bool HasUdp, int UdpSourcePort, int UdpDestinationPort, int UdpLength,
        bool Reassembled)
    {
        /// <summary>Carries a TCP or UDP packet of its own (not one quoted in an ICMP error).</summary>
        public bool IsTransportPacket => (HasTcp || HasUdp) && !Protocols.Contains("icmp") && !Protocols.Contains("icmpv6");
    }

    private static readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<Frame>>> Cache = new();

    public static IReadOnlyList<Frame> Frames(string path) =>
        Cache.GetOrAdd(path, p => new Lazy<IReadOnlyList<Frame>>(() => Run(p))).Value;

    private static readonly string[] Fields =
    [
        "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id", "frame.protocols",
        "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.hdr_len", "tcp.len",
        "udp.srcport", "udp.dstport", "udp.length", "ip.fragment.count", "ipv6.fragment.count",
    ];

    private static IReadOnlyList<Frame> Run(string path)
    {
        var arguments = new List<string> { "-n", "-r", path, "-T", "fields", "-E", "occurrence=l" };
        foreach (var f in Fields) { arguments.Add("-e"); arguments.Add(f); }
        var psi = new ProcessStartInfo("tshark", arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        // An empty profile, so a user's preferences cannot change the dissection.
        psi.Environment["WIRESHARK_CONFIG_DIR"] = Path.Combine(Path.GetTempPath(), "trafficstore-tshark-empty-profile");
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("tshark did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        var frames = new List<Frame>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            var f = line.Split('\t');
            bool tcp = f[6].Length > 0, udp = f[14].Length > 0;
            frames.Add(new Frame(
                L(f[0]), EpochToNs(f[1]), I(f[2]), I(f[3]), I(f[4]), f[5].Split(':'),
                tcp, I(f[6]), I(f[7]), tcp ? uint.Parse(f[8], CultureInfo.InvariantCulture) : 0, tcp ? uint.Parse(f[9], CultureInfo.InvariantCulture) : 0,
                tcp ? Convert.ToInt32(f[10], 16) : 0, I(f[11]), I(f[12]), I(f[13]),
                udp, I(f[14]), I(f[15]), I(f[16]),
                f[17].Length > 0 || f[18].Length > 0));
        }
        process.WaitForExit();
        _ = stderr.Result;
        return frames;
    }

    private static int I(string s) => s.Length == 0 ? 0 : int.Parse(s, CultureInfo.InvariantCulture);
    private static long L(string s) => long.Parse(s, CultureInfo.InvariantCulture);

    /// <summary>"seconds.fraction" (tshark prints 9 fraction digits) to nanoseconds, exactly.</summary>
    internal static long EpochToNs(string text)
    {
        int dot = text.IndexOf('.');
        if (dot < 0) return long.Parse(text, CultureInfo.InvariantCulture) * 1_000_000_000L;
        long seconds = long.Parse(text[..dot], CultureInfo.InvariantCulture);
        var fraction = text[(dot + 1)..].PadRight(9, '0')[..9];
        return seconds * 1_000_000_000L + long.Parse(fraction, CultureInfo.InvariantCulture);
    }
}
