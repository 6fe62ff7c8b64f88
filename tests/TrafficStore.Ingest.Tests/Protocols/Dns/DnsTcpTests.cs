using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

public class DnsTcpTests
{
    private const long S = 1_000_000_000L;

    private static List<string> Run(IReadOnlyList<StreamChunk> chunks, Action<IStreamParser, IReadOnlyList<StreamChunk>> feed)
    {
        var sink = new ListSink<DnsTransaction>();
        IStreamProtocol dns = new DnsProtocol(sink);
        var parser = dns.CreateParser(TestFlows.Tcp());
        feed(parser, chunks);
        parser.OnEnd(100 * S);
        return TableText.Rows(DnsTable.Definition, sink.Rows.OrderBy(r => r.OrderFrame).ThenBy(r => r.Id));
    }

    /// <summary>Two pipelined queries in one segment; both responses in one segment (RFC 7766 §6.2.1.1).</summary>
    private static IReadOnlyList<StreamChunk> Pipelined() => new[]
    {
        new StreamChunk(FlowDirection.ClientToServer,
            DnsMessageBuilder.Query(1, "www.example.com", 1).Prefix().Concat(DnsMessageBuilder.Query(2, "www.example.com", 28).Prefix()).ToArray(),
            new SegmentInfo(4, 1 * S)),
        new StreamChunk(FlowDirection.ServerToClient,
            DnsMessageBuilder.CnameAResponse(1).Prefix().Concat(DnsMessageBuilder.CnameAResponse(2).Prefix()).ToArray(),
            new SegmentInfo(6, 2 * S)),
    };

    [Fact]
    public void SeveralMessagesPerSegmentAllBecomeTransactions()
    {
        var rows = Run(Pipelined(), (p, c) => SplitFeeder.Whole(p, c));
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Contains("transport=tcp", r));
        Assert.All(rows, r => Assert.Contains("response_frame=6", r));
    }

    [Fact]
    public void SplitInvariance()
    {
        var chunks = Pipelined();
        var expected = Run(chunks, (p, c) => SplitFeeder.Whole(p, c));
        foreach (var (name, feed) in SplitFeeder.AllWays(chunks))
        {
            Assert.True(expected.SequenceEqual(Run(chunks, feed)), name);
        }
    }

    [Fact]
    public void MessageSpanningSegmentsBelongsToTheSegmentWithItsLastByte()
    {
        var response = DnsMessageBuilder.CnameAResponse(1).Prefix();
        var chunks = new[]
        {
            new StreamChunk(FlowDirection.ClientToServer, DnsMessageBuilder.Query(1, "www.example.com", 1).Prefix(), new SegmentInfo(1, 1 * S)),
            new StreamChunk(FlowDirection.ServerToClient, response[..10], new SegmentInfo(2, 2 * S)),
            new StreamChunk(FlowDirection.ServerToClient, response[10..], new SegmentInfo(3, 3 * S)),
        };
        var rows = Run(chunks, (p, c) => SplitFeeder.Whole(p, c));
        Assert.Contains("response_frame=3,", Assert.Single(rows));
    }

    [Fact]
    public void GapStopsTheDirectionAndMarksPendingQueries()
    {
        var sink = new ListSink<DnsTransaction>();
        IStreamProtocol dns = new DnsProtocol(sink);
        var parser = dns.CreateParser(TestFlows.Tcp());
        parser.OnData(FlowDirection.ClientToServer, DnsMessageBuilder.Query(1, "a.example", 1).Prefix(), new SegmentInfo(1, S));
        parser.OnGap(FlowDirection.ServerToClient, 100, new SegmentInfo(2, S));
        parser.OnData(FlowDirection.ServerToClient, DnsMessageBuilder.CnameAResponse(1).Prefix(), new SegmentInfo(3, S));
        parser.OnEnd(2 * S);
        var row = Assert.Single(sink.Rows);
        Assert.Null(row.ResponseFrame);
        Assert.Contains("dns_tcp_gap", row.Anomalies);
    }

    [Fact]
    public void LengthPrefixShorterThanAHeaderStopsTheDirection()
    {
        var sink = new ListSink<DnsTransaction>();
        IStreamProtocol dns = new DnsProtocol(sink);
        var parser = dns.CreateParser(TestFlows.Tcp());
        parser.OnData(FlowDirection.ClientToServer, new byte[] { 0, 3, 1, 2, 3 }, new SegmentInfo(1, S));
        parser.OnData(FlowDirection.ClientToServer, DnsMessageBuilder.Query(1, "a.example", 1).Prefix(), new SegmentInfo(2, S));
        parser.OnEnd(2 * S);
        Assert.Empty(sink.Rows);
    }
}

internal static class DnsFraming
{
    public static byte[] Prefix(this byte[] message)
    {
        var framed = new byte[message.Length + 2];
        framed[0] = (byte)(message.Length >> 8);
        framed[1] = (byte)message.Length;
        message.CopyTo(framed, 2);
        return framed;
    }
}
