using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

public class LinkLayerTests
{
    private static readonly byte[] Body = Text("GET / HTTP/1.1\r\n\r\n");
    private static byte[] TcpV4() => Ipv4("10.0.0.1", "10.0.0.2", 6, Tcp(40000, 80, 1000, 2000, 0x018, 512, Body));
    private static byte[] TcpV6() => Ipv6("2001:db8::1", "2001:db8::2", 6, Tcp(40000, 80, 1000, 2000, 0x018, 512, Body));

    private static void AssertHttpV4(DecodeResult r)
    {
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(DecodeAnomaly.None, r.Anomaly);
        Assert.Equal(4, r.Packet.IpVersion);
        Assert.Equal(NetAddress.Parse("10.0.0.1"), r.Packet.Source);
        Assert.Equal(NetAddress.Parse("10.0.0.2"), r.Packet.Destination);
        Assert.True(r.Packet.IsTcp);
        Assert.Equal((ushort)40000, r.Packet.SourcePort);
        Assert.Equal((ushort)80, r.Packet.DestinationPort);
        Assert.Equal(Body, r.Payload);
        Assert.Equal(Body.Length, r.Packet.PayloadLength);
    }

    private static void AssertHttpV6(DecodeResult r)
    {
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.Equal(6, r.Packet.IpVersion);
        Assert.Equal(NetAddress.Parse("2001:db8::1"), r.Packet.Source);
        Assert.Equal(NetAddress.Parse("2001:db8::2"), r.Packet.Destination);
        Assert.Equal(Body, r.Payload);
    }

    [Fact]
    public void Ethernet_ipv4_and_ipv6()
    {
        AssertHttpV4(DecodeResult.Of(Ethernet(0x0800, TcpV4()), LinkType.Ethernet));
        AssertHttpV6(DecodeResult.Of(Ethernet(0x86DD, TcpV6()), LinkType.Ethernet));
    }

    [Theory]
    [InlineData(new ushort[] { 0x8100 }, new ushort[] { 100 })]
    [InlineData(new ushort[] { 0x88A8, 0x8100 }, new ushort[] { 200, 300 })]
    [InlineData(new ushort[] { 0x9100, 0x8100 }, new ushort[] { 7, 8 })]
    [InlineData(new ushort[] { 0x88A8, 0x88A8, 0x8100, 0x8100 }, new ushort[] { 4000, 1, 2, 3 })]
    public void Vlan_tags_at_any_depth_report_the_outermost_id(ushort[] tagTypes, ushort[] ids)
    {
        var r = DecodeResult.Of(EthernetTagged(tagTypes, ids, 0x0800, TcpV4()), LinkType.Ethernet);
        AssertHttpV4(r);
        Assert.Equal((short)ids[0], r.Packet.VlanId);
    }

    [Fact]
    public void Untagged_frames_have_vlan_minus_one()
    {
        Assert.Equal(-1, DecodeResult.Of(Ethernet(0x0800, TcpV4()), LinkType.Ethernet).Packet.VlanId);
    }

    [Fact]
    public void Llc_and_arp_are_not_ip()
    {
        // 802.3 frame: the type field is a length (<= 1500), followed by LLC (CDP uses SNAP).
        var llc = Ethernet(38, [0xAA, 0xAA, 0x03, 0x00, 0x00, 0x0C, 0x20, 0x00, .. new byte[30]]);
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(llc, LinkType.Ethernet).Status);
        var arp = Ethernet(0x0806, new byte[28]);
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(arp, LinkType.Ethernet).Status);
        var taggedArp = EthernetTagged([0x8100], [5], 0x0806, new byte[28]);
        var r = DecodeResult.Of(taggedArp, LinkType.Ethernet);
        Assert.Equal(DecodeStatus.NotIp, r.Status);
        Assert.Equal(5, r.Packet.VlanId);
    }

    [Fact]
    public void Llc_snap_with_an_ethertype_carries_ip()
    {
        var v4 = TcpV4();
        byte[] snap = [0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00, .. v4];
        AssertHttpV4(DecodeResult.Of(Ethernet((ushort)snap.Length, snap), LinkType.Ethernet));
    }

    [Fact]
    public void Mpls_label_stack_then_ip()
    {
        // Two labels; the second has the bottom-of-stack bit.
        byte[] labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
        AssertHttpV4(DecodeResult.Of(Ethernet(0x8847, [.. labels, .. TcpV4()]), LinkType.Ethernet));
        AssertHttpV6(DecodeResult.Of(Ethernet(0x8847, [.. labels, .. TcpV6()]), LinkType.Ethernet));
        var cut = DecodeResult.Of(Ethernet(0x8847, labels[..4]), LinkType.Ethernet);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.TruncatedLink), (cut.Status, cut.Anomaly));
    }

    [Fact]
    public void Pppoe_session_carries_ip()
    {
        var v4 = TcpV4();
        byte[] pppoe = [0x11, 0x00, 0x12, 0x34, (byte)((v4.Length + 2) >> 8), (byte)(v4.Length + 2), 0x00, 0x21, .. v4];
        AssertHttpV4(DecodeResult.Of(Ethernet(0x8864, pppoe), LinkType.Ethernet));
        var v6 = TcpV6();
        byte[] pppoe6 = [0x11, 0x00, 0x12, 0x34, (byte)((v6.Length + 2) >> 8), (byte)(v6.Length + 2), 0x00, 0x57, .. v6];
        AssertHttpV6(DecodeResult.Of(Ethernet(0x8864, pppoe6), LinkType.Ethernet));
        byte[] lcp = [0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0xC0, 0x21, 1, 1, 0, 4];
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(Ethernet(0x8864, lcp), LinkType.Ethernet).Status);
    }

    [Fact]
    public void Linux_cooked_v1_and_v2()
    {
        AssertHttpV4(DecodeResult.Of(Sll(0x0800, TcpV4()), LinkType.LinuxSll));
        AssertHttpV6(DecodeResult.Of(Sll(0x86DD, TcpV6()), LinkType.LinuxSll));
        AssertHttpV4(DecodeResult.Of(Sll2(0x0800, TcpV4()), LinkType.LinuxSll2));
        AssertHttpV6(DecodeResult.Of(Sll2(0x86DD, TcpV6()), LinkType.LinuxSll2));
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(Sll(0x0806, new byte[28]), LinkType.LinuxSll).Status);
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(Sll(0x0004, new byte[28]), LinkType.LinuxSll).Status); // 802.2 LLC pseudo-type
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bsd_null_reads_the_family_in_either_byte_order(bool bigEndian)
    {
        AssertHttpV4(DecodeResult.Of(Null(2, bigEndian, TcpV4()), LinkType.Null));
        foreach (uint family in new uint[] { 24, 28, 30, 10 })
            AssertHttpV6(DecodeResult.Of(Null(family, bigEndian, TcpV6()), LinkType.Null));
        Assert.Equal(DecodeStatus.NotIp, DecodeResult.Of(Null(7, bigEndian, new byte[20]), LinkType.Null).Status);
    }

    [Fact]
    public void Loop_family_is_network_order()
    {
        AssertHttpV4(DecodeResult.Of(Null(2, bigEndian: true, TcpV4()), LinkType.Loop));
        AssertHttpV6(DecodeResult.Of(Null(24, bigEndian: true, TcpV6()), LinkType.Loop));
    }

    [Theory]
    [InlineData(LinkType.Raw)]
    [InlineData(LinkType.RawBsd12)]
    [InlineData(LinkType.RawBsd14)]
    public void Raw_ip_uses_the_version_nibble(LinkType linkType)
    {
        AssertHttpV4(DecodeResult.Of(TcpV4(), linkType));
        AssertHttpV6(DecodeResult.Of(TcpV6(), linkType));
        var bad = DecodeResult.Of([0x50, .. new byte[39]], linkType);
        Assert.Equal(DecodeStatus.Malformed, bad.Status);
        Assert.Equal(DecodeAnomaly.BadIpVersion, bad.Anomaly);
    }

    [Fact]
    public void Link_types_228_and_229_are_fixed_versions()
    {
        AssertHttpV4(DecodeResult.Of(TcpV4(), LinkType.Ipv4));
        AssertHttpV6(DecodeResult.Of(TcpV6(), LinkType.Ipv6));
        Assert.Equal(DecodeAnomaly.BadIpVersion, DecodeResult.Of(TcpV6(), LinkType.Ipv4).Anomaly);
    }

    [Fact]
    public void Unknown_link_type_is_reported_and_counted()
    {
        var decoder = new PacketDecoder();
        var r = DecodeResult.Of(decoder, TcpV4(), (LinkType)147);
        Assert.Equal(DecodeStatus.UnsupportedLinkType, r.Status);
        Assert.Equal(DecodeAnomaly.UnsupportedLinkType, r.Anomaly);
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.UnsupportedLinkType]);
        Assert.Equal(1, decoder.Statistics.UnsupportedLinkType);
        Assert.Equal("unsupported_link_type", DecodeAnomaly.UnsupportedLinkType.Name());
    }

    [Fact]
    public void Frame_metadata_is_copied_into_the_packet()
    {
        var decoder = new PacketDecoder();
        var data = Ethernet(0x0800, TcpV4());
        decoder.Decode(data, LinkType.Ethernet, 42, 123_456_789, 1514, 3, out var packet, out _);
        Assert.Equal(42, packet.FrameNumber);
        Assert.Equal(123_456_789, packet.TimestampNs);
        Assert.Equal(1514, packet.FrameLength);
        Assert.Equal(3, packet.InterfaceId);
    }
}
