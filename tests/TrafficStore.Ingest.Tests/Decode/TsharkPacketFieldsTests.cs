using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Capture;
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
        var expected = TsharkView.Frames(path).Where(f => f.IsTransportPacket)
            .Select(f => f.HasTcp
                ? Tcp(f.Number, f.TcpSourcePort, f.TcpDestinationPort, f.TcpSequence, f.TcpAcknowledgment, f.TcpFlags, f.TcpWindow, f.TcpHeaderLength, f.TcpLength, f.Reassembled)
                : Udp(f.Number, f.UdpSourcePort, f.UdpDestinationPort, f.UdpLength, f.Reassembled))
            .ToList();

        var actual = new List<string>();
        var decoder = new PacketDecoder();
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            if (decoder.Decode(in frame, out var p, out _) != DecodeStatus.Decoded) continue;
            actual.Add(p.IsTcp
                ? Tcp(p.FrameNumber, p.SourcePort, p.DestinationPort, p.Sequence, p.Acknowledgment, (int)p.Flags, p.Window, p.TcpHeaderLength, p.PayloadLength, p.Reassembled)
                : Udp(p.FrameNumber, p.SourcePort, p.DestinationPort, p.PayloadLength + 8, p.Reassembled));
        }
        Assert.Equal(expected, actual);
    }

    private static string Tcp(long frame, int sport, int dport, uint seq, uint ack, int flags, int window, int hlen, int len, bool reassembled) =>
        $"{frame} tcp {sport}>{dport} seq={seq} ack={ack} flags=0x{flags:x3} win={window} hlen={hlen} len={len}{(reassembled ? " reassembled" : "")}";

    private static string Udp(long frame, int sport, int dport, int length, bool reassembled) =>
        $"{frame} udp {sport}>{dport} length={length}{(reassembled ? " reassembled" : "")}";
}
