using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

public class DnsTransactionTests
{
    private const long S = 1_000_000_000L;

    private static (ListSink<DnsTransaction> Sink, IDatagramParser Parser) Udp(ushort serverPort = 53)
    {
        var sink = new ListSink<DnsTransaction>();
        IDatagramProtocol dns = new DnsProtocol(sink);
        return (sink, dns.CreateParser(TestFlows.Udp(serverPort: serverPort)));
    }

    [Fact]
    public void QueryAndResponseMakeOneRowWithOracleColumns()
    {
        var (sink, p) = Udp();
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(0x1234, "www.example.com", 1), new SegmentInfo(1, 10 * S));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(0x1234), new SegmentInfo(2, 10 * S + 1_500_000));
        p.OnEnd(11 * S);
        var row = TableText.Row(DnsTable.Definition, Assert.Single(sink.Rows));
        Assert.Equal("1", row["query_frame"]);
        Assert.Equal("10.000000000", row["query_ts"]);
        Assert.Equal("udp", row["transport"]);
        Assert.Equal("10.0.0.1", row["client_ip"]);
        Assert.Equal("53", row["server_port"]);
        Assert.Equal("4660", row["id"]);
        Assert.Equal("A", row["qtype_name"]);
        Assert.Equal("2", row["response_frame"]);
        Assert.Equal("NOERROR", row["rcode_name"]);
        Assert.Equal("2", row["answers"]);
        Assert.Equal("0.001500000", row["dns_time"]);
        Assert.Equal("93.184.216.34", row["a"]);
        Assert.Equal("", row["aaaa"]);
        Assert.Equal("edge.example.com", row["cname"]);
        Assert.Equal("1232", row["edns_udp_size"]);
        Assert.Equal("300|60", row["ttls"]);
        Assert.Equal("dns", row["variant"]);
    }

    [Fact]
    public void RetransmittedQueryWithinTheWindowIsItsOwnUnansweredRow()
    {
        var (sink, p) = Udp();
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(5, "a.example", 1), new SegmentInfo(1, 10 * S));
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(5, "a.example", 1), new SegmentInfo(2, 12 * S));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(5), new SegmentInfo(3, 13 * S));
        p.OnEnd(14 * S);
        var rows = sink.Rows.OrderBy(r => r.OrderFrame).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal((1L, 3L), (rows[0].QueryFrame!.Value, rows[0].ResponseFrame!.Value)); // the first query gets the response
        Assert.True(rows[1].QueryRetransmission);
        Assert.Null(rows[1].ResponseFrame);
    }

    [Fact]
    public void RepeatedIdAfterTheWindowStartsANewTransaction()
    {
        // as in ipv6-frag-dns.pcap: frames 3 and 5 are 5.0008 s apart; the response goes to frame 5
        var (sink, p) = Udp();
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(5, "a.example", 16), new SegmentInfo(3, 10 * S));
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(5, "a.example", 16), new SegmentInfo(5, 15 * S + 800_000));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(5), new SegmentInfo(8, 15 * S + 900_000));
        p.OnEnd(20 * S);
        var rows = sink.Rows.OrderBy(r => r.OrderFrame).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Null(rows[0].ResponseFrame);
        Assert.False(rows[0].QueryRetransmission);
        Assert.Equal(8, rows[1].ResponseFrame);
    }

    [Fact]
    public void DuplicateResponseAndLoneResponseGetRowsOfTheirOwn()
    {
        var (sink, p) = Udp();
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(9, "www.example.com", 1), new SegmentInfo(1, 1 * S));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(9), new SegmentInfo(2, 2 * S));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(9), new SegmentInfo(3, 3 * S));
        p.OnDatagram(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(77), new SegmentInfo(4, 4 * S));
        p.OnEnd(5 * S);
        var rows = sink.Rows.OrderBy(r => r.OrderFrame).ToList();
        Assert.Equal(3, rows.Count);
        Assert.True(rows[1].ResponseRetransmission);
        Assert.Null(rows[2].QueryFrame);
        Assert.Equal("www.example.com", rows[2].QueryName); // from the response's question
        Assert.Equal("10.0.0.1", rows[2].ClientIp);          // the response's receiver
        Assert.Null(rows[2].ResponseTimeNs);
    }

    [Fact]
    public void UnansweredQueryIsEmittedAtTheEnd()
    {
        var (sink, p) = Udp();
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(1, "x.example", 28), new SegmentInfo(1, S));
        Assert.Empty(sink.Rows);
        p.OnEnd(2 * S);
        var row = Assert.Single(sink.Rows);
        Assert.Equal("AAAA", row.QueryTypeName);
        Assert.Null(row.Rcode);
    }

    [Fact]
    public void PendingQueriesAreCapped()
    {
        var sink = new ListSink<DnsTransaction>();
        IDatagramProtocol dns = new DnsProtocol(sink, new DnsOptions { MaxPendingQueries = 3 });
        var p = dns.CreateParser(TestFlows.Udp());
        for (int i = 0; i < 5; i++) p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query((ushort)i, "q.example", 1), new SegmentInfo(i + 1, S));
        Assert.Equal(2, sink.Rows.Count);
        Assert.All(sink.Rows, r => Assert.Contains("dns_pending_limit", r.Anomalies));
    }

    [Theory]
    [InlineData(5353, "mdns")]
    [InlineData(5355, "llmnr")]
    [InlineData(53, "dns")]
    public void VariantFollowsThePort(ushort port, string variant)
    {
        var (sink, p) = Udp(port);
        p.OnDatagram(FlowDirection.ClientToServer, DnsMessageBuilder.Query(1, "host.local", 1), new SegmentInfo(1, S));
        p.OnEnd(S);
        Assert.Equal(variant, Assert.Single(sink.Rows).Variant);
    }

    [Fact]
    public void TableStartsWithTheOracleDnsColumns()
    {
        var oracle = Oracle.OracleFile.Section("dns-udp-a.pcap", "dns").Header;
        Assert.Equal(oracle, DnsTable.Definition.Columns.Take(oracle.Count).Select(c => c.Name));
    }

    [Fact]
    public void ClassifierAcceptsQueriesAndRejectsText()
    {
        Assert.Equal(ProtocolMatch.Yes, DnsClassifier.ClassifyMessage(DnsMessageBuilder.Query(1, "a.b", 1)));
        Assert.Equal(ProtocolMatch.No, DnsClassifier.ClassifyMessage("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8));
        Assert.Equal(ProtocolMatch.NeedMoreData, DnsClassifier.ClassifyStream(new byte[5]));
        var framed = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Question("a.b", 1).ToTcp();
        Assert.Equal(ProtocolMatch.Yes, DnsClassifier.ClassifyStream(framed));
    }
}
