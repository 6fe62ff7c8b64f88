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

    [Fact]
    public void Truncated_ipv4_header_capture_is_malformed_not_an_exception()
    {
        // SOURCES.md: one Ethernet frame whose IPv4 header claims more data than was captured
        // (tshark: "[Packet size limited during capture: IPv4 truncated]").
        var decoder = new PacketDecoder();
        using var source = CaptureFile.Open(SharedData.Pcap("corrupt-ip4-header-truncated.pcap"));
        var frame = new CaptureFrame();
        Assert.Equal(CaptureReadStatus.Frame, source.TryReadNext(ref frame));
        Assert.Equal(DecodeStatus.Malformed, decoder.Decode(in frame, out var packet, out _));
        Assert.Equal(DecodeAnomaly.TruncatedIp, decoder.LastAnomaly);
        Assert.Equal(4, packet.IpVersion);
        Assert.Equal(CaptureReadStatus.EndOfCapture, source.TryReadNext(ref frame));
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.TruncatedIp]);
    }

    [Fact]
    public void Cut_short_capture_reports_the_offset_of_the_incomplete_record()
    {
        var path = SharedData.Pcap("corrupt-cut-short-pgsql.pcap");
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        long lastRecordEnd = 0;
        CaptureReadStatus status;
        while ((status = source.TryReadNext(ref frame)) == CaptureReadStatus.Frame)
            lastRecordEnd = frame.FileOffset + 16 + frame.Data.Length; // pcap record header is 16 bytes
        Assert.Equal(CaptureReadStatus.Error, status);
        Assert.Equal("cut_short", source.Error!.Kind);
        Assert.Equal(lastRecordEnd, source.Error.ByteOffset);
        Assert.True(source.Error.ByteOffset < new FileInfo(path).Length);
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
