using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.TcpAnalysis;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>
/// Chooses the L7 parser of one TCP connection and feeds it the reassembled streams.
/// While undecided it keeps the first bytes of each direction (up to
/// <see cref="IngestOptions.ClassificationBytes"/>) and asks every protocol after each new piece:
/// the first protocol answering Yes wins. When every protocol has answered No for every direction
/// with data, or the buffer is full, or the connection ends, the first protocol whose well-known
/// port is the server port is taken; failing that the connection stays unparsed. The chosen parser
/// then gets the buffered pieces replayed in their original order (with their segment info).
/// </summary>
internal sealed class StreamDispatcher : IByteStreamSink
{
    private readonly TcpConnection _connection;
    private readonly IReadOnlyList<IStreamProtocol> _protocols;
    private readonly int _cap;
    private readonly byte[][] _buffer = new byte[2][];
    private readonly int[] _length = new int[2];
    private readonly int[] _classifiable = { -1, -1 };
    private readonly List<Piece> _log = new();
    private IStreamParser? _parser;
    private bool _detached;

    public StreamDispatcher(TcpConnection connection, IReadOnlyList<IStreamProtocol> protocols, int classificationBytes)
    {
        _connection = connection;
        _protocols = protocols;
        _cap = Math.Max(classificationBytes, 1);
    }

    public string ProtocolName { get; private set; } = "";
    public bool ClassificationCapHit { get; private set; }

    public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        if (_parser is not null) { _parser.OnData(direction, data, segment); return; }
        if (_detached || data.IsEmpty) return;
        int d = (int)direction;
        int room = _cap - _length[d];
        if (data.Length <= room)
        {
            Append(direction, data, segment);
            Decide(force: false);
            return;
        }
        // The buffer fills up: classify on what fits, then decide for good and hand the rest on.
        if (room > 0) Append(direction, data[..room], segment);
        if (!Decide(force: false) && _parser is null && !_detached)
        {
            ClassificationCapHit = true;
            Decide(force: true);
        }
        if (_parser is not null) _parser.OnData(direction, data[room..], segment);
    }

    private void Append(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        int d = (int)direction;
        _buffer[d] ??= new byte[_cap];
        data.CopyTo(_buffer[d].AsSpan(_length[d]));
        _log.Add(new Piece(direction, _length[d], data.Length, segment));
        _length[d] += data.Length;
    }

    public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment)
    {
        if (_parser is not null) { _parser.OnGap(direction, missingBytes, segment); return; }
        if (_detached) return;
        int d = (int)direction;
        // Bytes after a gap are kept for the replay but not shown to classifiers.
        if (_classifiable[d] < 0) _classifiable[d] = _length[d];
        _log.Add(new Piece(direction, -1, missingBytes, segment));
    }

    /// <summary>End of the connection: decide if still undecided, then let the parser flush.</summary>
    public void OnEnd(long timestampNs)
    {
        if (_parser is null && !_detached) Decide(force: true);
        _parser?.OnEnd(timestampNs);
    }

    /// <summary>Returns true once decided (parser attached or detached), false while waiting for more bytes.</summary>
    private bool Decide(bool force)
    {
        bool allNo = true;
        foreach (var protocol in _protocols)
        {
            for (int d = 0; d < 2; d++)
            {
                int n = _classifiable[d] >= 0 ? _classifiable[d] : _length[d];
                if (n == 0) continue;
                var match = protocol.Classify((FlowDirection)d, _buffer[d].AsSpan(0, n));
                if (match == ProtocolMatch.Yes) { Attach(protocol); return true; }
                if (match == ProtocolMatch.NeedMoreData) allNo = false;
            }
        }
        if (!allNo && !force) return false;
        foreach (var protocol in _protocols)
        {
            if (protocol.IsWellKnownPort(ServerPort())) { Attach(protocol); return true; }
        }
        Detach();
        return true;
    }

    private ushort ServerPort() => _connection.ClientSide == 0 ? _connection.SidePort1 : _connection.SidePort0;

    private void Attach(IStreamProtocol protocol)
    {
        int c = _connection.ClientSide;
        var flow = new FlowContext(_connection.Stream, Transport.Tcp,
            c == 0 ? _connection.SideIp0 : _connection.SideIp1, c == 0 ? _connection.SidePort0 : _connection.SidePort1,
            c == 0 ? _connection.SideIp1 : _connection.SideIp0, c == 0 ? _connection.SidePort1 : _connection.SidePort0);
        _parser = protocol.CreateParser(flow);
        ProtocolName = protocol.Name;
        foreach (var piece in _log)
        {
            if (piece.Offset < 0) _parser.OnGap(piece.Direction, piece.Length, piece.Segment);
            else _parser.OnData(piece.Direction, _buffer[(int)piece.Direction].AsSpan(piece.Offset, (int)piece.Length), piece.Segment);
        }
        Release();
    }

    private void Detach()
    {
        _detached = true;
        Release();
        // Nobody needs the bytes any more: the reassembler switches to counting only.
        _connection.DataSink = null;
    }

    private void Release()
    {
        _log.Clear();
        _log.TrimExcess();
        _buffer[0] = null!;
        _buffer[1] = null!;
    }

    private readonly record struct Piece(FlowDirection Direction, int Offset, long Length, SegmentInfo Segment);
}

/// <summary>Chooses the parser of one UDP flow: content first, then the well-known port, a few datagrams at most.</summary>
internal sealed class DatagramDispatcher
{
    private readonly UdpFlow _flow;
    private readonly IReadOnlyList<IDatagramProtocol> _protocols;
    private readonly int _maxTries;
    private IDatagramParser? _parser;
    private int _tries;

    public DatagramDispatcher(UdpFlow flow, IReadOnlyList<IDatagramProtocol> protocols, int maxTries)
    {
        _flow = flow;
        _protocols = protocols;
        _maxTries = maxTries;
    }

    public string ProtocolName { get; private set; } = "";

    public void OnDatagram(FlowDirection direction, ReadOnlySpan<byte> datagram, SegmentInfo segment)
    {
        if (_parser is null)
        {
            if (_tries >= _maxTries) return;
            _tries++;
            IDatagramProtocol? chosen = null;
            foreach (var p in _protocols)
                if (p.Classify(datagram) == ProtocolMatch.Yes) { chosen = p; break; }
            if (chosen is null)
            {
                foreach (var p in _protocols)
                    if (p.IsWellKnownPort(_flow.ServerPort) || p.IsWellKnownPort(_flow.ClientPort)) { chosen = p; break; }
            }
            if (chosen is null) return;
            _parser = chosen.CreateParser(new FlowContext(_flow.ConnectionId, Transport.Udp, _flow.ClientIp, _flow.ClientPort, _flow.ServerIp, _flow.ServerPort));
            ProtocolName = chosen.Name;
        }
        _parser.OnDatagram(direction, datagram, segment);
    }

    public void OnEnd(long timestampNs) => _parser?.OnEnd(timestampNs);
}
