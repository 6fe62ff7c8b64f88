using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.TcpAnalysis;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>
/// capture source → decoder → flow table → TCP analysis and reassembly → L7 parsers, and one
/// <see cref="ConnectionRecord"/> per TCP connection / UDP flow to the connections sink, in order of
/// each flow's first packet. Single-threaded; one instance per capture.
/// <code>
/// var rows = new ListSink&lt;ConnectionRecord&gt;();
/// using var source = CaptureFile.Open(path);
/// var result = new IngestPipeline(rows, streamProtocols, datagramProtocols).Run(source);
/// </code>
/// Tests and live capture can also push packets one by one with <see cref="ProcessPacket"/> and
/// end with <see cref="Complete"/>.
/// </summary>
public sealed partial class IngestPipeline
{
    private readonly IRowSink<ConnectionRecord> _connections;
    private readonly IReadOnlyList<IStreamProtocol> _streamProtocols;
    private readonly IReadOnlyList<IDatagramProtocol> _datagramProtocols;
    private readonly IngestOptions _options;
    private readonly FlowTable _flows;
    private readonly Dictionary<long, StreamDispatcher> _tcpDispatchers = new();
    private readonly Dictionary<long, DatagramDispatcher> _udpDispatchers = new();
    private readonly SortedDictionary<long, ConnectionRecord?> _pendingRows = new();
    private readonly List<TcpConnection> _closingTcp = new();
    private readonly List<UdpFlow> _closingUdp = new();
    private long _nextAppearance;
    private long _nextRowToEmit;
    private long _lastIdleSweepNs;
    private bool _completed;

    public IngestPipeline(IRowSink<ConnectionRecord> connections,
        IEnumerable<IStreamProtocol>? streamProtocols = null,
        IEnumerable<IDatagramProtocol>? datagramProtocols = null,
        IngestOptions? options = null)
    {
        _connections = connections ?? throw new ArgumentNullException(nameof(connections));
        _streamProtocols = (streamProtocols ?? Array.Empty<IStreamProtocol>()).ToArray();
        _datagramProtocols = (datagramProtocols ?? Array.Empty<IDatagramProtocol>()).ToArray();
        _options = options ?? IngestOptions.Default;
        _flows = new FlowTable(_options.ReassemblyBufferBytes);
    }

    public long TcpConnections => _flows.TcpStreams;
    public long UdpFlows => _flows.UdpStreams;

    /// <summary>
    /// Tracks one decoded TCP or UDP packet; <paramref name="payload"/> is its captured L4 payload.
    /// Returns the connection id it belongs to, or -1 when it is neither TCP nor UDP.
    /// </summary>
    public long ProcessPacket(in DecodedPacket p, ReadOnlySpan<byte> payload)
    {
        if (_completed) throw new InvalidOperationException("The pipeline has completed.");
        if (_options.IdleTimeout is { } idle) SweepIdle(p.TimestampNs, idle);
        if (p.IsTcp) return ProcessTcp(p, payload);
        if (p.IsUdp) return ProcessUdp(p, payload);
        return -1;
    }

    private long ProcessTcp(in DecodedPacket p, ReadOnlySpan<byte> payload)
    {
        var conn = _flows.GetTcp(p, out int side, out bool isNew, out var replaced);
        if (replaced is not null) Finish(replaced, idleTimedOut: false);
        if (isNew)
        {
            conn.AppearanceIndex = _nextAppearance++;
            if (_streamProtocols.Count > 0)
            {
                var dispatcher = new StreamDispatcher(conn, _streamProtocols, _options.ClassificationBytes);
                _tcpDispatchers[conn.Stream] = dispatcher;
                conn.DataSink = dispatcher;
            }
        }
        conn.Process(p, payload, side, reusedPorts: replaced is not null);
        return conn.Stream;
    }

    private long ProcessUdp(in DecodedPacket p, ReadOnlySpan<byte> payload)
    {
        var flow = _flows.GetUdp(p, out bool isNew);
        if (isNew)
        {
            flow.AppearanceIndex = _nextAppearance++;
            if (_datagramProtocols.Count > 0)
                _udpDispatchers[flow.Stream] = new DatagramDispatcher(flow, _datagramProtocols, _options.ClassificationDatagrams);
        }
        var direction = flow.Add(p);
        if (_udpDispatchers.TryGetValue(flow.Stream, out var dispatcher))
        {
            int captured = Math.Min(Math.Max(p.CapturedPayloadLength, 0), payload.Length);
            dispatcher.OnDatagram(direction, payload[..captured], new SegmentInfo(p.FrameNumber, p.TimestampNs));
        }
        return flow.ConnectionId;
    }

    /// <summary>End of the capture: every open flow is finished and every row emitted.</summary>
    public void Complete()
    {
        if (_completed) return;
        _completed = true;
        _closingTcp.Clear();
        _closingUdp.Clear();
        _flows.RemoveAll(_closingTcp, _closingUdp);
        foreach (var c in _closingTcp) Finish(c, idleTimedOut: false);
        foreach (var u in _closingUdp) Finish(u, idleTimedOut: false);
        foreach (var row in _pendingRows.Values)
            if (row is not null) _connections.Add(row);
        _pendingRows.Clear();
    }

    private void SweepIdle(long nowNs, TimeSpan idle)
    {
        long idleNs = idle.Ticks * 100;
        long lingerNs = _options.ClosedLinger.Ticks * 100;
        if (nowNs - _lastIdleSweepNs < Math.Max(Math.Min(idleNs, lingerNs) / 4, 1)) return;
        _lastIdleSweepNs = nowNs;
        _closingTcp.Clear();
        _closingUdp.Clear();
        _flows.RemoveIdle(nowNs - idleNs, _closingTcp, _closingUdp, nowNs - lingerNs);
        foreach (var c in _closingTcp) Finish(c, idleTimedOut: !c.Closed);
        foreach (var u in _closingUdp) Finish(u, idleTimedOut: true);
    }

    private void Finish(TcpConnection conn, bool idleTimedOut)
    {
        conn.FinishReassembly();
        string protocol = "";
        bool classificationCapHit = false;
        if (_tcpDispatchers.Remove(conn.Stream, out var dispatcher))
        {
            dispatcher.OnEnd(conn.LastTimestampNs);
            protocol = dispatcher.ProtocolName;
            classificationCapHit = dispatcher.ClassificationCapHit;
        }
        var row = conn.ToRecord(idleTimedOut, classificationCapHit ? 1 : 0);
        row.Protocol = protocol;
        Emit(conn.AppearanceIndex, row);
    }

    private void Finish(UdpFlow flow, bool idleTimedOut)
    {
        string protocol = "";
        if (_udpDispatchers.Remove(flow.Stream, out var dispatcher))
        {
            dispatcher.OnEnd(flow.LastTimestampNs);
            protocol = dispatcher.ProtocolName;
        }
        ConnectionRecord? row = null;
        if (_options.EmitUdpFlows)
        {
            row = flow.ToRecord(idleTimedOut);
            row.Protocol = protocol;
        }
        Emit(flow.AppearanceIndex, row);
    }

    /// <summary>Rows leave in order of first packet: a finished flow waits for every earlier one.</summary>
    private void Emit(long appearance, ConnectionRecord? row)
    {
        _pendingRows[appearance] = row;
        while (_pendingRows.Remove(_nextRowToEmit, out var next))
        {
            if (next is not null) _connections.Add(next);
            _nextRowToEmit++;
        }
    }
}
