using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

public class IpLayerTests
{
    private static readonly byte[] Body = Text("hello, world");
    private static byte[] Segment() => Tcp(1234, 443, 7, 9, 0x018, 100, Body);

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(40)]
    public void Ipv4_options_are_skipped_by_ihl(int optionBytes)
    {
        var options = new byte[optionBytes];
        if (optionBytes > 0) { options[0] = 0x94; options[1] = 4; } // Router Alert, then EOL padding
        var r = DecodeResult.Of(Ethernet(0x0800, Ipv4("192.0.2.1", "192.0.2.2", 6, Segment(), options)), LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(Body, r.Payload);
        Assert.Equal((ushort)443, r.Packet.DestinationPort);
    }

    [Fact]
    public void Ethernet_padding_never_becomes_payload()
    {
        // A bare ACK is 54 bytes; Ethernet pads it to 60 with six non-zero bytes.
        var frame = Ethernet(0x0800, [.. Ipv4("192.0.2.1", "192.0.2.2", 6, Tcp(1, 2, 3, 4, 0x010, 5, [])), 1, 2, 3, 4, 5, 6]);
        Assert.Equal(60, frame.Length);
        var r = DecodeResult.Of(frame, LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Empty(r.Payload);
        Assert.Equal(0, r.Packet.PayloadLength);
        Assert.Equal(0, r.Packet.CapturedPayloadLength);
        Assert.Equal(60, r.Packet.FrameLength);
    }

    [Fact]
    public void Udp_padding_is_cut_by_the_ip_length_too()
    {
        var frame = Ethernet(0x0800, [.. Ipv4("192.0.2.1", "192.0.2.2", 17, Udp(53, 5353, [0xAB])), .. new byte[17]]);
        var r = DecodeResult.Of(frame, LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal([0xAB], r.Payload);
        Assert.Equal(1, r.Packet.PayloadLength);
    }

    [Fact]
    public void Headers_only_capture_reports_the_declared_payload_length()
    {
        var full = Ethernet(0x0800, Ipv4("192.0.2.1", "192.0.2.2", 6, Tcp(1, 2, 3, 4, 0x018, 5, new byte[1448])));
        var cut = full[..54]; // snaplen 54
        var r = DecodeResult.Of(cut, LinkType.Ethernet, originalLength: full.Length);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(1448, r.Packet.PayloadLength);
        Assert.Equal(0, r.Packet.CapturedPayloadLength);
        Assert.Empty(r.Payload);
    }

    [Fact]
    public void Snaplen_cut_payload_is_partial()
    {
        var full = Ethernet(0x0800, Ipv4("192.0.2.1", "192.0.2.2", 6, Tcp(1, 2, 3, 4, 0x018, 5, Text("0123456789"))));
        var r = DecodeResult.Of(full[..^4], LinkType.Ethernet, originalLength: full.Length);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(10, r.Packet.PayloadLength);
        Assert.Equal(6, r.Packet.CapturedPayloadLength);
        Assert.Equal(Text("012345"), r.Payload);
    }

    [Fact]
    public void Ipv4_total_length_beyond_the_frame_is_an_anomaly_and_uses_the_frame()
    {
        var ip = Ipv4("192.0.2.1", "192.0.2.2", 6, Segment(), totalLengthOverride: 1000);
        var r = DecodeResult.Of(ip, LinkType.Raw);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(DecodeAnomaly.IpLengthExceedsFrame, r.Anomaly);
        Assert.Equal(Body.Length, r.Packet.PayloadLength);
    }

    [Fact]
    public void Ipv4_total_length_zero_uses_the_frame_length()
    {
        var ip = Ipv4("192.0.2.1", "192.0.2.2", 6, Segment(), totalLengthOverride: 0);
        var r = DecodeResult.Of(ip, LinkType.Raw);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(Body, r.Payload);
    }

    [Theory]
    [InlineData(4, DecodeAnomaly.BadIpHeaderLength)]
    [InlineData(0, DecodeAnomaly.BadIpHeaderLength)]
    [InlineData(15, DecodeAnomaly.TruncatedIp)]
    public void Bad_ihl_is_malformed_but_keeps_addresses(int ihl, DecodeAnomaly anomaly)
    {
        var ip = Ipv4("192.0.2.1", "192.0.2.2", 6, Segment(), ihlOverride: ihl);
        var r = DecodeResult.Of(ip[..40], LinkType.Raw);
        Assert.Equal(DecodeStatus.Malformed, r.Status);
        Assert.Equal(anomaly, r.Anomaly);
        Assert.Equal(NetAddress.Parse("192.0.2.1"), r.Packet.Source);
    }

    [Fact]
    public void Total_length_below_header_is_malformed()
    {
        var r = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 6, Segment(), totalLengthOverride: 12), LinkType.Raw);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.BadIpTotalLength), (r.Status, r.Anomaly));
    }

    [Fact]
    public void Ipv6_extension_header_chain_is_walked()
    {
        // Hop-by-hop -> routing -> destination options -> AH -> TCP.
        var chain = Ipv6Extension(43, 0,
            Ipv6Extension(60, 1,
                Ipv6Extension(51, 0,
                    AuthenticationHeader(6, Segment()))));
        var r = DecodeResult.Of(Ipv6("2001:db8::1", "2001:db8::2", 0, chain, hopLimit: 9), LinkType.Ipv6);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(IpProtocol.Tcp, r.Packet.Protocol);
        Assert.Equal(9, r.Packet.Ttl);
        Assert.Equal(Body, r.Payload);
        Assert.Equal(Body.Length, r.Packet.PayloadLength);
    }

    [Fact]
    public void Esp_and_no_next_header_end_the_chain()
    {
        var esp = DecodeResult.Of(Ipv6("2001:db8::1", "2001:db8::2", 60, Ipv6Extension(50, 0, new byte[32])), LinkType.Ipv6);
        Assert.Equal(DecodeStatus.OtherIp, esp.Status);
        Assert.Equal((IpProtocol)50, esp.Packet.Protocol);
        var none = DecodeResult.Of(Ipv6("2001:db8::1", "2001:db8::2", 59, []), LinkType.Ipv6);
        Assert.Equal(DecodeStatus.OtherIp, none.Status);
    }

    [Fact]
    public void Truncated_extension_header_is_malformed()
    {
        var packet = Ipv6("2001:db8::1", "2001:db8::2", 0, Ipv6Extension(6, 2, Segment()));
        var r = DecodeResult.Of(packet[..50], LinkType.Ipv6, originalLength: packet.Length);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.TruncatedIp), (r.Status, r.Anomaly));
    }

    [Fact]
    public void Icmp_error_quoting_tcp_is_not_tcp()
    {
        var quoted = Ipv4("10.0.0.2", "10.0.0.1", 6, Tcp(80, 40000, 1, 2, 0x012, 3, []))[..28];
        byte[] icmp = [3, 3, 0, 0, 0, 0, 0, 0, .. quoted]; // destination unreachable, port unreachable
        var r = DecodeResult.Of(Ethernet(0x0800, Ipv4("10.0.0.1", "10.0.0.2", 1, icmp)), LinkType.Ethernet);
        Assert.Equal(DecodeStatus.OtherIp, r.Status);
        Assert.Equal(IpProtocol.Icmp, r.Packet.Protocol);
        Assert.Equal(NetAddress.Parse("10.0.0.1"), r.Packet.Source);
        Assert.Equal(0, r.Packet.SourcePort);
    }

    [Fact]
    public void Ip_in_ip_and_6in4_report_the_innermost_header()
    {
        var inner = Ipv4("10.1.1.1", "10.2.2.2", 6, Segment(), ttl: 33);
        var r = DecodeResult.Of(Ethernet(0x0800, Ipv4("192.0.2.1", "192.0.2.2", 4, inner)), LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(NetAddress.Parse("10.1.1.1"), r.Packet.Source);
        Assert.Equal(33, r.Packet.Ttl);
        Assert.Equal(Body, r.Payload);

        var six = Ipv6("2001:db8::a", "2001:db8::b", 17, Udp(5000, 53, Body));
        var r6 = DecodeResult.Of(Ethernet(0x0800, Ipv4("192.0.2.1", "192.0.2.2", 41, six)), LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r6.Status);
        Assert.Equal(6, r6.Packet.IpVersion);
        Assert.Equal(NetAddress.Parse("2001:db8::b"), r6.Packet.Destination);
        Assert.True(r6.Packet.IsUdp);
        Assert.Equal(Body, r6.Payload);
    }

    [Fact]
    public void Gre_carrying_ipv4_ipv6_and_ethernet()
    {
        var inner4 = Ipv4("10.1.1.1", "10.2.2.2", 6, Segment());
        var r = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 47, Gre(0x0800, inner4, key: 77, sequence: 5, checksum: true)), LinkType.Raw);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(NetAddress.Parse("10.2.2.2"), r.Packet.Destination);
        Assert.Equal(Body, r.Payload);

        var inner6 = Ipv6("2001:db8::a", "2001:db8::b", 6, Segment());
        var r6 = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 47, Gre(0x86DD, inner6)), LinkType.Raw);
        Assert.Equal((DecodeStatus.Decoded, (byte)6), (r6.Status, r6.Packet.IpVersion));

        var bridged = Ethernet(0x8100, [0, 9, 0x08, 0x00, .. inner4]);
        var re = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 47, Gre(0x6558, bridged, key: 1)), LinkType.Raw);
        Assert.Equal(DecodeStatus.Decoded, re.Status);
        Assert.Equal(NetAddress.Parse("10.1.1.1"), re.Packet.Source);
        Assert.Equal(9, re.Packet.VlanId);

        var pptp = DecodeResult.Of(Ipv4("192.0.2.1", "192.0.2.2", 47, [0x30, 0x01, 0x88, 0x0B, 0, 0, 0, 0]), LinkType.Raw);
        Assert.Equal(DecodeStatus.OtherIp, pptp.Status);
    }

    [Fact]
    public void Tunnel_depth_is_capped()
    {
        var packet = Ipv4("10.1.1.1", "10.2.2.2", 6, Segment());
        for (int i = 0; i < 3; i++) packet = Ipv4("192.0.2.1", "192.0.2.2", 4, packet);
        var decoder = new PacketDecoder(new DecoderOptions { MaxTunnelDepth = 2 });
        var r = DecodeResult.Of(decoder, packet, LinkType.Raw);
        Assert.Equal((DecodeStatus.OtherIp, DecodeAnomaly.TunnelDepthLimit), (r.Status, r.Anomaly));
        Assert.Equal(DecodeStatus.Decoded, DecodeResult.Of(new PacketDecoder(new DecoderOptions { MaxTunnelDepth = 3 }), packet, LinkType.Raw).Status);
    }
}
