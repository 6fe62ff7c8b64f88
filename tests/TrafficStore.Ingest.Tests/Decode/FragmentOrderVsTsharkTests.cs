using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Capture;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// The corpus has fragments only in order. These hand-built captures (reordered, duplicated,
/// interleaved fragments) are written to a temporary pcap and dissected by tshark: the frames
/// where we count a reassembled TCP/UDP packet, and its tcp.len/udp.length, must be tshark's.
/// </summary>
public class FragmentOrderVsTsharkTests
{
    private static readonly byte[] Body = Text(string.Concat(Enumerable.Repeat("0123456789abcdef", 40)));

    private static List<byte[]> Fragments(byte[] datagram, int size, ushort id, byte protocol)
    {
        var result = new List<byte[]>();
        for (int offset = 0; offset < datagram.Length; offset += size)
        {
            int length = Math.Min(size, datagram.Length - offset);
            result.Add(Ethernet(0x0800, Ipv4("192.0.2.10", "192.0.2.20", protocol, datagram[offset..(offset + length)],
                identification: id, moreFragments: offset + length < datagram.Length, fragmentOffset: offset)));
        }
        return result;
    }

    public static TheoryData<string> Scenarios() => new() { "reverse", "middle-last", "duplicate-first", "interleaved", "ipv6-reverse" };

    private static List<byte[]> Build(string scenario)
    {
        var tcp = Tcp(40000, 80, 1, 1, 0x018, 100, Body);
        var udp = Udp(5000, 53, Body);
        var a = Fragments(tcp, 256, 1, 6);   // 3 fragments
        var b = Fragments(udp, 200, 2, 17);  // 4 fragments
        switch (scenario)
        {
            case "reverse": return [a[2], a[1], a[0]];
            case "middle-last": return [a[0], a[2], a[1]];
            case "duplicate-first": return [a[0], a[0], a[1], a[2], a[2]];
            case "interleaved": return [b[3], a[0], b[0], a[2], b[1], b[2], a[1]];
            default:
            {
                var frames = new List<byte[]>();
                for (int offset = 0; offset < udp.Length; offset += 304)
                {
                    int length = Math.Min(304, udp.Length - offset);
                    frames.Add(Ethernet(0x86DD, Ipv6("2001:db8::10", "2001:db8::20", 44,
                        Ipv6Fragment(17, offset, offset + length < udp.Length, 99, udp[offset..(offset + length)]))));
                }
                frames.Reverse();
                return frames;
            }
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Reassembled_packets_are_counted_under_tsharks_frames(string scenario)
    {
        var frames = Build(scenario);
        var file = CaptureBytes.Pcap(false, false, 65535, 1);
        for (int i = 0; i < frames.Count; i++) file.PcapRecord(1_700_000_000, (uint)i, frames[i]);
        var path = Path.Combine(Path.GetTempPath(), $"trafficstore-frag-{scenario}-{Environment.ProcessId}.pcap");
        File.WriteAllBytes(path, file.ToArray());
        try
        {
            var expected = TsharkView.Frames(path).Where(f => f.IsTransportPacket)
                .Select(f => f.HasTcp ? $"{f.Number} tcp len={f.TcpLength}" : $"{f.Number} udp length={f.UdpLength}").ToList();
            var actual = new List<string>();
            var decoder = new PacketDecoder();
            using var source = CaptureFile.Open(path);
            var frame = new CaptureFrame();
            while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            {
                if (decoder.Decode(in frame, out var p, out _) != DecodeStatus.Decoded) continue;
                Assert.True(p.Reassembled);
                actual.Add(p.IsTcp ? $"{p.FrameNumber} tcp len={p.PayloadLength}" : $"{p.FrameNumber} udp length={p.PayloadLength + 8}");
            }
            Assert.NotEmpty(expected);
            Assert.Equal(expected, actual);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
