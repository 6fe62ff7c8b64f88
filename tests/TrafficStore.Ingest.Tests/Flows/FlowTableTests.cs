using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Tests.TcpAnalysis;
using static TrafficStore.Ingest.Tests.TcpAnalysis.TcpScenario;

namespace TrafficStore.Ingest.Tests.Flows;

public class FlowTableTests
{
    [Fact]
    public void BothDirectionsMapToOneKey()
    {
        var a = Packet(true, 0, 1, 0, S);
        var b = Packet(false, 1, 1, 2, SA);
        Assert.Equal(FlowKey.From(a), FlowKey.From(b));
        Assert.Equal(FlowKey.From(a).GetHashCode(), FlowKey.From(b).GetHashCode());
        var other = a;
        other.SourcePort++;
        Assert.NotEqual(FlowKey.From(a), FlowKey.From(other));
        var udp = a;
        udp.Protocol = IpProtocol.Udp;
        Assert.NotEqual(FlowKey.From(a), FlowKey.From(udp));
    }

    [Fact]
    public void Ipv6AndIpv4KeysNeverCollide()
    {
        var v4 = FlowKey.Create(NetAddress.Parse("0.0.0.1"), 1, NetAddress.Parse("0.0.0.2"), 2, IpProtocol.Tcp);
        var v6 = FlowKey.Create(NetAddress.Parse("::1"), 1, NetAddress.Parse("::2"), 2, IpProtocol.Tcp);
        Assert.NotEqual(v4, v6);
    }

    [Fact]
    public void TcpAndUdpStreamsAreNumberedSeparatelyInOrderOfFirstAppearance()
    {
        var table = new FlowTable();
        var t0 = Packet(true, 0, 1, 0, S);
        var t1 = Packet(true, 1, 1, 0, S);
        t1.SourcePort = 50000;
        var u0 = Packet(true, 2, 0, 0, 0, 10);
        u0.Protocol = IpProtocol.Udp;
        Assert.Equal(0, table.GetTcp(t0, out _, out bool n0, out _).Stream);
        Assert.Equal(0, table.GetUdp(u0, out bool nu).Stream);
        Assert.Equal(1, table.GetTcp(t1, out _, out bool n1, out _).Stream);
        Assert.True(n0 && n1 && nu);
        var reply = Packet(false, 3, 9, 2, SA);
        Assert.Equal(0, table.GetTcp(reply, out int side, out bool isNew, out var replaced).Stream);
        Assert.Equal(1, side);
        Assert.False(isNew);
        Assert.Null(replaced);
    }

    [Fact]
    public void OnlyASynWithANewIsnSplitsAStream()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, R);                 // RST ...
        t.C(40, 1000, 0, S);                    // ... then the same ISN again: a retransmission, same stream
        t.Sv(50, 5000, 1001, SA);               // same ISN SYN-ACK: same stream
        t.Sv(60, 123, 1001, SA);                // new ISN SYN-ACK: same stream (flagged reused ports)
        t.C(70, 1000, 0, S | TcpFlags.Fin);     // SYN+FIN with the old ISN: still the same
        Assert.All(t.Streams, s => Assert.Equal(0, s));
        t.C(80, 2000, 0, S);                    // new ISN: new stream
        Assert.Equal(1, t.Streams[^1]);
    }

    [Fact]
    public void MidStreamPickupSplitsOnTheFirstSyn()
    {
        // Without a SYN the base is first seq - 1, so a later SYN almost always has another ISN.
        var t = new TcpScenario();
        t.C(0, 1001, 5001, PA, len: 10);
        t.C(10, 1001 - 1, 0, S);
        Assert.Equal(new long[] { 0, 0 }, t.Streams);
        t.C(20, 7, 0, S);
        Assert.Equal(1, t.Streams[^1]);
    }
}
