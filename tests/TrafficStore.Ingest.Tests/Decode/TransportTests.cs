using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

public class TransportTests
{
    private static DecodeResult DecodeTcp(byte[] segment, PacketDecoder? decoder = null) =>
        DecodeResult.Of(decoder ?? new PacketDecoder(), Ipv4("192.0.2.1", "192.0.2.2", 6, segment), LinkType.Raw);

    [Fact]
    public void Tcp_fixed_header_fields()
    {
        var r = DecodeTcp(Tcp(65535, 1, 0xFEDCBA98, 0x01234567, 0x1FF, 0xBEEF, Text("x")));
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        var p = r.Packet;
        Assert.Equal((ushort)65535, p.SourcePort);
        Assert.Equal((ushort)1, p.DestinationPort);
        Assert.Equal(0xFEDCBA98u, p.Sequence);
        Assert.Equal(0x01234567u, p.Acknowledgment);
        Assert.Equal(TcpFlags.Fin | TcpFlags.Syn | TcpFlags.Rst | TcpFlags.Psh | TcpFlags.Ack | TcpFlags.Urg | TcpFlags.Ece | TcpFlags.Cwr | TcpFlags.Ns, p.Flags);
        Assert.Equal((ushort)0xBEEF, p.Window);
        Assert.Equal(20, p.TcpHeaderLength);
        Assert.Equal(-1, p.WindowScale);
        Assert.Equal(0, p.Mss);
        Assert.False(p.SackPermitted);
    }

    [Fact]
    public void Syn_options_mss_window_scale_sack_permitted()
    {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (a Linux SYN).
        byte[] options = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        var r = DecodeTcp(Tcp(1, 2, 3, 0, 0x002, 64240, [], options));
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(DecodeAnomaly.None, r.Anomaly);
        Assert.Equal((ushort)1460, r.Packet.Mss);
        Assert.Equal((sbyte)7, r.Packet.WindowScale);
        Assert.True(r.Packet.SackPermitted);
        Assert.Equal(40, r.Packet.TcpHeaderLength);
        Assert.Equal(0, r.Packet.PayloadLength);
    }

    [Theory]
    [InlineData(new byte[] { 2, 0, 0, 0 })]    // length 0
    [InlineData(new byte[] { 2, 1, 0, 0 })]    // length 1
    [InlineData(new byte[] { 1, 1, 8, 12 })]   // runs past the header
    public void Bad_option_length_stops_option_parsing_with_an_anomaly(byte[] options)
    {
        var r = DecodeTcp(Tcp(1, 2, 3, 0, 0x002, 5, Text("ab"), options));
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(DecodeAnomaly.BadTcpOption, r.Anomaly);
        Assert.Equal(Text("ab"), r.Payload);
    }

    [Fact]
    public void End_of_option_list_stops_parsing_without_anomaly()
    {
        var r = DecodeTcp(Tcp(1, 2, 3, 0, 0x002, 5, [], [0, 2, 4, 5]));
        Assert.Equal(DecodeAnomaly.None, r.Anomaly);
        Assert.Equal(0, r.Packet.Mss);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Data_offset_below_five_is_malformed_but_reported_like_tshark(int dataOffset)
    {
        var segment = Tcp(1, 2, 3, 4, 0x010, 5, Text("abcdefgh"), dataOffsetOverride: dataOffset);
        var decoder = new PacketDecoder();
        var r = DecodeTcp(segment, decoder);
        Assert.Equal(DecodeStatus.Malformed, r.Status);
        Assert.Equal(DecodeAnomaly.BadTcpHeaderLength, r.Anomaly);
        Assert.True(r.Packet.IsTcp);
        Assert.Equal(dataOffset * 4, r.Packet.TcpHeaderLength);
        Assert.Equal(3u, r.Packet.Sequence);
        // tcp-analysis-rules.md section 9: seglen = reported - hlen.
        Assert.Equal(segment.Length - dataOffset * 4, r.Packet.PayloadLength);
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.BadTcpHeaderLength]);
        Assert.Equal(1, decoder.Statistics.Malformed);
    }

    [Fact]
    public void Data_offset_beyond_the_segment_is_malformed()
    {
        var r = DecodeTcp(Tcp(1, 2, 3, 4, 0x010, 5, [], dataOffsetOverride: 15));
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.BadTcpHeaderLength), (r.Status, r.Anomaly));
    }

    [Fact]
    public void Options_cut_by_the_snaplen_keep_the_packet()
    {
        byte[] options = [2, 4, 0x05, 0xB4, 1, 3, 3, 7];
        var packet = Ipv4("192.0.2.1", "192.0.2.2", 6, Tcp(1, 2, 3, 0, 0x002, 5, [], options));
        var r = DecodeResult.Of(packet[..(20 + 20 + 5)], LinkType.Raw, originalLength: packet.Length);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(DecodeAnomaly.TruncatedTcpOptions, r.Anomaly);
        Assert.Equal((ushort)1460, r.Packet.Mss);
        Assert.Equal(-1, r.Packet.WindowScale);
        Assert.Equal(0, r.Packet.PayloadLength);
    }

    [Fact]
    public void Udp_ports_length_and_payload()
    {
        var r = DecodeResult.Of(Ipv6("2001:db8::1", "2001:db8::2", 17, Udp(5353, 53, Text("query"))), LinkType.Ipv6);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.True(r.Packet.IsUdp);
        Assert.Equal((ushort)5353, r.Packet.SourcePort);
        Assert.Equal((ushort)53, r.Packet.DestinationPort);
        Assert.Equal(5, r.Packet.PayloadLength);
        Assert.Equal(Text("query"), r.Payload);
    }

    [Fact]
    public void Udp_length_below_eight_is_malformed_and_beyond_the_datagram_is_an_anomaly()
    {
        var small = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 17, Udp(1, 2, Text("ab"), lengthOverride: 4)), LinkType.Raw);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.BadUdpLength), (small.Status, small.Anomaly));
        var big = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 17, Udp(1, 2, Text("ab"), lengthOverride: 400)), LinkType.Raw);
        Assert.Equal((DecodeStatus.Decoded, DecodeAnomaly.BadUdpLength), (big.Status, big.Anomaly));
        Assert.Equal(Text("ab"), big.Payload);
    }

    [Fact]
    public void Statistics_count_outcomes_and_anomalies_by_name()
    {
        var decoder = new PacketDecoder();
        DecodeTcp(Tcp(1, 2, 3, 4, 0x010, 5, []), decoder);
        DecodeResult.Of(decoder, Ipv4("192.0.2.1", "192.0.2.2", 17, Udp(1, 2, [])), LinkType.Raw);
        DecodeResult.Of(decoder, Ipv4("192.0.2.1", "192.0.2.2", 1, new byte[8]), LinkType.Raw);
        DecodeResult.Of(decoder, Ethernet(0x0806, new byte[28]), LinkType.Ethernet);
        DecodeResult.Of(decoder, new byte[10], LinkType.Ethernet);
        var s = decoder.Statistics;
        Assert.Equal((5L, 1L, 1L, 1L, 1L, 1L), (s.Frames, s.DecodedTcp, s.DecodedUdp, s.OtherIp, s.NotIp, s.Malformed));
        Assert.Equal(new Dictionary<string, long> { ["truncated_link"] = 1 }, s.AnomalyCounts());
    }

    [Fact]
    public void Anomaly_names_are_unique_snake_case()
    {
        var names = DecodeAnomalyNames.All.Select(a => a.Name()).ToList();
        Assert.Equal(Enum.GetValues<DecodeAnomaly>().Length, names.Count);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^[a-z]+(_[a-z0-9]+)*$", n));
        Assert.Equal("truncated_ip", DecodeAnomaly.TruncatedIp.Name());
        Assert.Equal("fragment_overlap", DecodeAnomaly.FragmentOverlap.Name());
    }
}
