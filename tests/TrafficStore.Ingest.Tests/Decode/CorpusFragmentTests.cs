using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// The fragmented corpus captures: a reassembled TCP/UDP packet is counted once, under the frame
/// that completed its datagram, with that frame's frame.len and the whole datagram's tcp.len —
/// the frames tshark marks as carrying a reassembled datagram.
/// </summary>
public class CorpusFragmentTests
{
    [Theory]
    [InlineData("ipfrag-http-request.pcap")]
    [InlineData("ipv6-frag-dns.pcap")]
    public void Reassembled_packets_are_counted_where_tshark_counts_them(string name)
    {
        var path = SharedData.Pcap(name);
        var expected = TsharkView.Frames(path).Where(f => f.Reassembled).Select(f => f.Number).ToList();
        Assert.NotEmpty(expected);

        var decoder = new PacketDecoder();
        var reassembled = new List<long>();
        long held = 0;
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            var status = decoder.Decode(in frame, out var packet, out var payload);
            if (status == DecodeStatus.FragmentHeld) held++;
            if (status == DecodeStatus.Decoded && packet.Reassembled)
            {
                reassembled.Add(packet.FrameNumber);
                Assert.Equal(frame.OriginalLength, packet.FrameLength);
                Assert.Equal(packet.PayloadLength, payload.Length);
            }
        }
        Assert.Equal(expected, reassembled);
        Assert.True(held > 0);
        Assert.Equal(held, decoder.Statistics.FragmentsHeld);
    }
}
