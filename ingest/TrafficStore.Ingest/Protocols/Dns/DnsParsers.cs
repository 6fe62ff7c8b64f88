using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>DNS over UDP: one message per datagram.</summary>
internal sealed class DnsDatagramParser : IDatagramParser
{
    private readonly DnsTransactionMatcher _matcher;
    private readonly DnsOptions _options;

    public DnsDatagramParser(FlowContext flow, IRowSink<DnsTransaction> sink, DnsOptions options)
    {
        _matcher = new DnsTransactionMatcher(flow, sink, options);
        _options = options;
    }

    public void OnDatagram(FlowDirection direction, ReadOnlySpan<byte> datagram, SegmentInfo segment)
    {
        var message = DnsMessageReader.Parse(datagram, _options);
        if (message is null) return; // shorter than a header: not a DNS message at all
        _matcher.OnMessage(message, direction, segment, Array.Empty<DnsAnomaly>());
    }

    public void OnEnd(long timestampNs) => _matcher.Flush(Array.Empty<DnsAnomaly>());
}

/// <summary>DNS over TCP: length-prefixed messages in each direction (RFC 1035 §4.2.2).</summary>
internal sealed class DnsStreamParser : IStreamParser
{
    private readonly DnsTransactionMatcher _matcher;
    private readonly DnsOptions _options;
    private readonly DnsTcpFramer[] _framers;
    private FlowDirection _current;

    public DnsStreamParser(FlowContext flow, IRowSink<DnsTransaction> sink, DnsOptions options)
    {
        _matcher = new DnsTransactionMatcher(flow, sink, options);
        _options = options;
        _framers = new[] { new DnsTcpFramer(OnMessage), new DnsTcpFramer(OnMessage) };
    }

    public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        _current = direction;
        _framers[(int)direction].OnData(data, segment);
    }

    public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => _framers[(int)direction].OnGap();

    public void OnEnd(long timestampNs)
    {
        // queries left unanswered after a direction stopped are marked with the reason
        var reasons = new List<DnsAnomaly>(2);
        foreach (var f in _framers) if (f.StoppedBy is { } a) reasons.Add(a);
        _matcher.Flush(reasons);
    }

    /// <summary>Why each direction stopped being framed (null while it is parsed).</summary>
    public DnsAnomaly? StoppedBy(FlowDirection direction) => _framers[(int)direction].StoppedBy;

    private void OnMessage(ReadOnlySpan<byte> bytes, SegmentInfo segment)
    {
        var message = DnsMessageReader.Parse(bytes, _options);
        if (message is not null) _matcher.OnMessage(message, _current, segment, Array.Empty<DnsAnomaly>());
    }
}
