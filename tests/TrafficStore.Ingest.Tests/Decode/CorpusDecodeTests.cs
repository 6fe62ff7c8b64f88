using System.Globalization;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// Decodes every corpus capture and compares the TCP packets with tshark's oracle: packet count,
/// sum of frame.len and sum of tcp.len over all connections must be equal.
/// </summary>
public class CorpusDecodeTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Tcp_packets_bytes_and_payload_match_the_oracle(string name)
    {
        var tcp = OracleFile.Section(name, "tcp");
        long expectedPackets = 0, expectedBytes = 0, expectedPayload = 0;
        foreach (var row in tcp.Rows)
        {
            expectedPackets += Long(row["pkts_c2s"]) + Long(row["pkts_s2c"]);
            expectedBytes += Long(row["bytes_c2s"]) + Long(row["bytes_s2c"]);
            expectedPayload += Long(row["payload_c2s"]) + Long(row["payload_s2c"]);
        }

        var decoder = new PacketDecoder();
        long packets = 0, bytes = 0, payload = 0;
        using var source = CaptureFile.Open(SharedData.Pcap(name));
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            var status = decoder.Decode(in frame, out var packet, out var data);
            Assert.True(data.Length <= Math.Max(0, packet.PayloadLength));
            if (status == DecodeStatus.Decoded && packet.IsTcp)
            {
                packets++;
                bytes += packet.FrameLength;
                payload += packet.PayloadLength;
                Assert.Equal(packet.CapturedPayloadLength, data.Length);
            }
        }
        Assert.Equal(expectedPackets, packets);
        Assert.Equal(expectedBytes, bytes);
        Assert.Equal(expectedPayload, payload);
        Assert.Equal(decoder.Statistics.Frames, CorpusCaptureFrames(name));
    }

    private static long CorpusCaptureFrames(string name)
    {
        using var source = CaptureFile.Open(SharedData.Pcap(name));
        var frame = new CaptureFrame();
        long n = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) n++;
        return n;
    }

    private static long Long(string text) => text.Length == 0 ? 0 : long.Parse(text, CultureInfo.InvariantCulture);
}
