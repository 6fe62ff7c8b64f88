using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>Callbacks of <see cref="Http1MessageReader"/> into the connection that pairs messages.</summary>
internal interface IHttp1MessageHandler
{
    /// <summary>A header section was read; returns how the body is delimited (depends on the request for responses).</summary>
    Http1BodyMode OnHeaderSectionEnd(Http1MessageReader reader, Http1Message message);

    /// <summary>A message ended (possibly <see cref="Http1Message.Incomplete"/>).</summary>
    void OnMessageEnd(Http1MessageReader reader, Http1Message message);

    void OnUpgradedData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment);

    void OnUpgradedGap(FlowDirection direction, long missingBytes, SegmentInfo segment);

    /// <summary>
    /// Before any message was seen either way, this reader met a start line of the other kind
    /// (requests from the side the flow table called server): swap the roles of both readers.
    /// Returns false when that is no longer possible.
    /// </summary>
    bool TryReverseRoles(Http1MessageReader reader);
}

/// <summary>Where the reader is in the byte stream of one direction.</summary>
internal enum Http1ReadState : byte
{
    /// <summary>Before a start line (empty lines are skipped, RFC 9112 §2.2).</summary>
    StartLine,
    Headers,
    /// <summary>Content-Length body; _remaining bytes to go.</summary>
    FixedBody,
    ChunkSize,
    /// <summary>_remaining bytes of chunk data.</summary>
    ChunkData,
    /// <summary>The CRLF that ends chunk data.</summary>
    ChunkDataEnd,
    Trailers,
    /// <summary>Close-delimited response body.</summary>
    UntilClose,
    /// <summary>Lost the message boundary: each line is searched for a start line.</summary>
    Resync,
    /// <summary>After an Upgrade/CONNECT request: bytes are kept until the response says what they are.</summary>
    Held,
    /// <summary>Opaque tunnel (CONNECT 2xx, WebSocket): bytes ignored.</summary>
    Tunnel,
    /// <summary>h2c: bytes go to the HTTP/2 parser.</summary>
    Upgraded,
}

/// <summary>What <see cref="Http1MessageReader.SwitchTo"/> turns the rest of a direction into.</summary>
internal enum Http1Switch : byte
{
    Http1,
    Tunnel,
    Upgraded,
}

/// <summary>
/// Incremental reader of the HTTP/1.x messages of one direction, in the manner of Kestrel's
/// HttpParser: lines are only parsed once complete (a partial line waits in a small buffer, never
/// longer than its cap), bodies are copied straight from the segment, and all progress lives in
/// <see cref="State"/> plus a few counters, so any split of the input gives the same messages.
/// Never throws on input: bad framing records an anomaly and resyncs at the next start line.
/// </summary>
internal sealed class Http1MessageReader
{
    /// <summary>Bytes of an over-long line kept while resyncing (a start line can end such a line).</summary>
    private const int ResyncTailBytes = 8192;

    private readonly IHttp1MessageHandler _handler;
    private readonly Http1Options _options;

    private byte[] _line = Array.Empty<byte>();
    private int _lineLength;
    private bool _lineOverflow;
    private bool _lineStarted;
    private SegmentInfo _lineFirstSegment;

    private Http1Message? _message;
    private long _remaining;
    private int _headerBytesKept;
    private bool _anyStartLine;
    private SegmentInfo _lastSegment;
    /// <summary>
    /// The newest segment seen (highest frame number). After a hole is filled the reassembler
    /// delivers the filling segment and then the older, buffered ones: a message ending in those
    /// became complete with the filling segment, which is what tshark reports as its frame.
    /// </summary>
    private SegmentInfo _newest;
    private readonly List<Http1Anomaly> _pendingAnomalies = new();
    private List<(byte[] Data, SegmentInfo Segment)>? _held;
    private long _heldBytes;

    public Http1MessageReader(FlowDirection direction, IHttp1MessageHandler handler, Http1Options options)
    {
        Direction = direction;
        IsRequestSide = direction == FlowDirection.ClientToServer;
        _handler = handler;
        _options = options;
    }

    public FlowDirection Direction { get; }
    /// <summary>Reads requests (else responses); starts as "the flow's client sends requests", swapped by <see cref="IHttp1MessageHandler.TryReverseRoles"/>.</summary>
    public bool IsRequestSide { get; set; }

    /// <summary>A start line has been parsed in this direction.</summary>
    public bool AnyStartLine => _anyStartLine;
    public Http1ReadState State { get; private set; }

    /// <summary>Records an anomaly on the next message this reader starts.</summary>
    public void AddPendingAnomaly(Http1Anomaly a)
    {
        if (!_pendingAnomalies.Contains(a)) _pendingAnomalies.Add(a);
    }

    public void OnData(ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        _lastSegment = segment;
        if (segment.FrameNumber >= _newest.FrameNumber) _newest = segment;
        while (data.Length > 0)
        {
            switch (State)
            {
                case Http1ReadState.StartLine:
                case Http1ReadState.Resync:
                case Http1ReadState.Headers:
                case Http1ReadState.Trailers:
                case Http1ReadState.ChunkSize:
                case Http1ReadState.ChunkDataEnd:
                {
                    bool chunkLine = State is Http1ReadState.ChunkSize or Http1ReadState.ChunkDataEnd;
                    int cap = Math.Max(16, chunkLine ? _options.MaxChunkLineBytes : _options.MaxHeaderBytes);
                    if (!TakeLine(ref data, segment, cap, keepTail: State is Http1ReadState.Resync or Http1ReadState.StartLine, out var line, out bool overflow, out var first)) return;
                    OnLine(line, overflow, first, segment);
                    break;
                }
                case Http1ReadState.FixedBody:
                case Http1ReadState.ChunkData:
                {
                    int take = (int)Math.Min(_remaining, data.Length);
                    AppendBody(data[..take]);
                    _remaining -= take;
                    data = data[take..];
                    if (_remaining == 0)
                    {
                        if (State == Http1ReadState.FixedBody) Complete(segment, Http1ReadState.StartLine);
                        else State = Http1ReadState.ChunkDataEnd;
                    }
                    break;
                }
                case Http1ReadState.UntilClose:
                    AppendBody(data);
                    _message!.LastByteNs = segment.TimestampNs;
                    _message.CompleteFrame = _newest.FrameNumber;
                    _message.CompleteNs = _newest.TimestampNs;
                    return;
                case Http1ReadState.Held:
                    if (_heldBytes + data.Length > _options.MaxHeldUpgradeBytes)
                    {
                        AddPendingAnomaly(Http1Anomaly.UpgradeHoldOverflow);
                        SwitchTo(Http1Switch.Http1);
                        break;
                    }
                    (_held ??= new()).Add((data.ToArray(), segment));
                    _heldBytes += data.Length;
                    return;
                case Http1ReadState.Tunnel:
                    return;
                case Http1ReadState.Upgraded:
                    _handler.OnUpgradedData(Direction, data, segment);
                    return;
            }
        }
    }

    public void OnGap(long missingBytes, SegmentInfo segment)
    {
        if (missingBytes <= 0) return;
        if (segment.FrameNumber >= _newest.FrameNumber) _newest = segment;
        switch (State)
        {
            case Http1ReadState.FixedBody:
            case Http1ReadState.ChunkData:
            {
                var m = _message!;
                long inBody = Math.Min(missingBytes, _remaining);
                m.BodyLength += inBody;
                m.BodyMissingBytes += inBody;
                AddAnomaly(m, Http1Anomaly.BodyGap);
                _remaining -= inBody;
                if (State == Http1ReadState.FixedBody)
                {
                    if (_remaining > 0) return;
                    Complete(segment, missingBytes > inBody ? Http1ReadState.Resync : Http1ReadState.StartLine);
                    if (missingBytes > inBody) AddPendingAnomaly(Http1Anomaly.FramingGap);
                }
                else if (missingBytes == inBody)
                {
                    if (_remaining == 0) State = Http1ReadState.ChunkDataEnd;
                }
                else Fail(segment, Http1Anomaly.FramingGap);
                return;
            }
            case Http1ReadState.UntilClose:
                _message!.BodyLength += missingBytes;
                _message.BodyMissingBytes += missingBytes;
                _message.HasBody = true;
                AddAnomaly(_message, Http1Anomaly.BodyGap);
                return;
            case Http1ReadState.Headers:
            case Http1ReadState.ChunkSize:
            case Http1ReadState.ChunkDataEnd:
            case Http1ReadState.Trailers:
                ResetLine();
                Fail(segment, Http1Anomaly.FramingGap);
                return;
            case Http1ReadState.StartLine:
            case Http1ReadState.Resync:
                // a fresh line starts after the gap: the next message may begin right there
                ResetLine();
                if (State == Http1ReadState.StartLine) AddPendingAnomaly(Http1Anomaly.FramingGap);
                State = Http1ReadState.Resync;
                return;
            case Http1ReadState.Held:
                _held = null;
                _heldBytes = 0;
                AddPendingAnomaly(Http1Anomaly.FramingGap);
                State = Http1ReadState.Resync;
                return;
            case Http1ReadState.Tunnel:
                return;
            case Http1ReadState.Upgraded:
                _handler.OnUpgradedGap(Direction, missingBytes, segment);
                return;
        }
    }

    /// <summary>The connection ended: a close-delimited body ends normally, any other open message is incomplete.</summary>
    public void OnEnd()
    {
        if (State == Http1ReadState.Held) SwitchTo(Http1Switch.Http1);
        if (_message is null) return;
        if (State == Http1ReadState.UntilClose)
        {
            var m = _message;
            _message = null;
            State = Http1ReadState.StartLine;
            _handler.OnMessageEnd(this, m);
            return;
        }
        Fail(_lastSegment, Http1Anomaly.FramingGap, endOfStream: true);
    }

    /// <summary>Keep the following bytes until <see cref="SwitchTo"/> (after an Upgrade or CONNECT request).</summary>
    public void Hold()
    {
        if (State == Http1ReadState.StartLine && _lineLength == 0 && !_lineStarted) State = Http1ReadState.Held;
    }

    /// <summary>Decides what the rest of this direction is; held bytes are replayed into it.</summary>
    public void SwitchTo(Http1Switch to)
    {
        var held = _held;
        _held = null;
        _heldBytes = 0;
        if (State is Http1ReadState.Held or Http1ReadState.StartLine)
        {
            State = to switch
            {
                Http1Switch.Tunnel => Http1ReadState.Tunnel,
                Http1Switch.Upgraded => Http1ReadState.Upgraded,
                _ => Http1ReadState.StartLine,
            };
        }
        if (held is null) return;
        foreach (var (bytes, segment) in held) OnData(bytes, segment);
    }

    // ------------------------------------------------------------------ lines

    /// <summary>
    /// Takes bytes up to and including the next LF. Returns false (all of <paramref name="data"/>
    /// consumed) while the line is incomplete. A line longer than <paramref name="cap"/> comes back
    /// with <paramref name="overflow"/> set: empty, or with <paramref name="keepTail"/> its last bytes.
    /// The buffer's content depends only on the bytes, never on how they were split.
    /// </summary>
    private bool TakeLine(ref ReadOnlySpan<byte> data, SegmentInfo segment, int cap, bool keepTail,
        out ReadOnlySpan<byte> line, out bool overflow, out SegmentInfo first)
    {
        if (!_lineStarted)
        {
            _lineStarted = true;
            _lineFirstSegment = segment;
        }
        int lf = data.IndexOf((byte)'\n');
        var chunk = lf >= 0 ? data[..(lf + 1)] : data;
        data = data[chunk.Length..];
        line = default;
        overflow = false;
        first = _lineFirstSegment;

        if (lf >= 0 && _lineLength == 0 && !_lineOverflow && chunk.Length <= cap)
        {
            line = chunk; // whole line in this segment: no copy
            ResetLine();
            return true;
        }
        if (keepTail)
        {
            while (chunk.Length > 0)
            {
                int take = Math.Min(cap - _lineLength, chunk.Length);
                AppendLine(chunk[..take], cap);
                chunk = chunk[take..];
                if (_lineLength == cap && (chunk.Length > 0 || lf < 0))
                {
                    int keep = Math.Min(ResyncTailBytes, cap / 2);
                    _line.AsSpan(_lineLength - keep, keep).CopyTo(_line);
                    _lineLength = keep;
                    _lineOverflow = true;
                }
            }
        }
        else if (!_lineOverflow)
        {
            if (_lineLength + chunk.Length > cap)
            {
                _lineOverflow = true;
                _lineLength = 0;
            }
            else AppendLine(chunk, cap);
        }
        if (lf < 0) return false;
        overflow = _lineOverflow;
        line = overflow && !keepTail ? ReadOnlySpan<byte>.Empty : _line.AsSpan(0, _lineLength);
        ResetLine();
        return true;
    }

    private void AppendLine(ReadOnlySpan<byte> bytes, int cap)
    {
        if (_lineLength + bytes.Length > _line.Length)
        {
            int size = Math.Min(cap, Math.Max(_lineLength + bytes.Length, Math.Max(128, _line.Length * 2)));
            Array.Resize(ref _line, size);
        }
        bytes.CopyTo(_line.AsSpan(_lineLength));
        _lineLength += bytes.Length;
    }

    /// <summary>Forgets the line in progress (the bytes of a line just returned stay valid until the next append).</summary>
    private void ResetLine()
    {
        _lineLength = 0;
        _lineOverflow = false;
        _lineStarted = false;
    }

    private void OnLine(ReadOnlySpan<byte> rawLine, bool overflow, SegmentInfo first, SegmentInfo segment)
    {
        var line = Http1Syntax.TrimEol(rawLine);
        switch (State)
        {
            case Http1ReadState.StartLine:
                if (overflow)
                {
                    // only the line's tail is left: a start line may still end it (leftover body bytes before it)
                    AddPendingAnomaly(Http1Anomaly.StartLineTooLong);
                    State = Http1ReadState.Resync;
                    ResyncOn(line, first);
                    return;
                }
                if (line.Length == 0) return;
                if (TryStartMessage(line, first)) return;
                if (!_anyStartLine && IsStartLine(line, !IsRequestSide) && _handler.TryReverseRoles(this) && TryStartMessage(line, first)) return;
                AddPendingAnomaly(_anyStartLine ? Http1Anomaly.InvalidStartLine : Http1Anomaly.MidstreamPickup);
                State = Http1ReadState.Resync;
                ResyncOn(line, first);
                return;
            case Http1ReadState.Resync:
                ResyncOn(line, first);
                return;
            case Http1ReadState.Headers:
                OnHeaderLine(line, overflow, segment, trailers: false);
                return;
            case Http1ReadState.Trailers:
                OnHeaderLine(line, overflow, segment, trailers: true);
                return;
            case Http1ReadState.ChunkSize:
                if (!overflow && line.Length == 0)
                {
                    AddAnomaly(_message!, Http1Anomaly.MissingChunkCrlf);
                    return;
                }
                OnChunkSizeLine(line, overflow, segment);
                return;
            case Http1ReadState.ChunkDataEnd:
                if (!overflow && line.Length == 0)
                {
                    State = Http1ReadState.ChunkSize;
                    return;
                }
                // data ran on past its chunk-size: perhaps only the CRLF is missing
                AddAnomaly(_message!, Http1Anomaly.MissingChunkCrlf);
                OnChunkSizeLine(line, overflow, segment);
                return;
        }
    }

    private void ResyncOn(ReadOnlySpan<byte> line, SegmentInfo first)
    {
        int at = Http1Syntax.FindStartLine(line, IsRequestSide);
        if (at >= 0)
        {
            TryStartMessage(line[at..], first);
            return;
        }
        // picked up mid-stream with the roles not yet known for sure: the other kind may come first
        if (_anyStartLine) return;
        at = Http1Syntax.FindStartLine(line, !IsRequestSide);
        if (at >= 0 && _handler.TryReverseRoles(this)) TryStartMessage(line[at..], first);
    }

    private static bool IsStartLine(ReadOnlySpan<byte> line, bool request) =>
        request ? Http1Syntax.TryParseRequestLine(line, out _, out _, out _) : Http1Syntax.TryParseStatusLine(line, out _, out _, out _);

    private bool TryStartMessage(ReadOnlySpan<byte> line, SegmentInfo first)
    {
        Http1Message m;
        if (IsRequestSide)
        {
            if (!Http1Syntax.TryParseRequestLine(line, out var method, out var target, out var version)) return false;
            m = new Http1Message(isRequest: true) { Method = method, Target = target, Version = version };
        }
        else
        {
            if (!Http1Syntax.TryParseStatusLine(line, out var version, out int status, out var reason)) return false;
            m = new Http1Message(isRequest: false) { Version = version, Status = status, Reason = reason };
        }
        m.FirstByteNs = first.TimestampNs;
        m.Anomalies.AddRange(_pendingAnomalies);
        _pendingAnomalies.Clear();
        _message = m;
        _anyStartLine = true;
        _headerBytesKept = line.Length;
        State = Http1ReadState.Headers;
        return true;
    }

    private void OnHeaderLine(ReadOnlySpan<byte> line, bool overflow, SegmentInfo segment, bool trailers)
    {
        var m = _message!;
        if (overflow)
        {
            AddAnomaly(m, Http1Anomaly.HeaderLineTooLong);
            return;
        }
        if (line.Length == 0)
        {
            if (trailers) Complete(segment, Http1ReadState.StartLine);
            else EndHeaderSection(segment);
            return;
        }
        var fields = trailers ? m.Trailers : m.Headers;
        if (line[0] == ' ' || line[0] == '\t')
        {
            // RFC 9112 §5.2 obs-fold: a continuation of the previous field value
            AddAnomaly(m, Http1Anomaly.ObsFold);
            if (fields.Count == 0)
            {
                AddAnomaly(m, Http1Anomaly.InvalidHeaderLine);
                return;
            }
            var (name, value) = fields[^1];
            string more = System.Text.Encoding.UTF8.GetString(line).Trim(' ', '\t');
            if (_headerBytesKept + line.Length <= _options.MaxHeaderBytes)
            {
                fields[^1] = new(name, value + " " + more);
                _headerBytesKept += line.Length;
            }
            return;
        }
        if (!Http1Syntax.TryParseFieldLine(line, out var fieldName, out var fieldValue))
        {
            AddAnomaly(m, Http1Anomaly.InvalidHeaderLine);
            return;
        }
        if (!trailers)
        {
            // framing fields count even when past the storage caps
            if (fieldName.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) m.ContentLengths.Add(fieldValue);
            else if (fieldName.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) m.TransferEncodings.Add(fieldValue);
            else if (fieldName.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)) m.Upgrade = fieldValue;
        }
        if (m.Headers.Count + m.Trailers.Count >= _options.MaxHeaders)
        {
            AddAnomaly(m, Http1Anomaly.HeaderCountCap);
            return;
        }
        if (_headerBytesKept + line.Length > _options.MaxHeaderBytes)
        {
            AddAnomaly(m, Http1Anomaly.HeaderBytesCap);
            return;
        }
        _headerBytesKept += line.Length;
        fields.Add(new(fieldName, fieldValue));
    }

    private void EndHeaderSection(SegmentInfo segment)
    {
        var m = _message!;
        var mode = _handler.OnHeaderSectionEnd(this, m);
        m.BodyMode = mode;
        switch (mode)
        {
            case Http1BodyMode.ContentLength when m.ContentLength > 0:
                m.HasBody = true;
                m.Body = new BodyBuffer(_options.Payload.MaxBodyBytes, m.ContentLength);
                _remaining = m.ContentLength;
                State = Http1ReadState.FixedBody;
                return;
            case Http1BodyMode.Chunked:
                m.HasBody = true;
                m.Body = new BodyBuffer(_options.Payload.MaxBodyBytes);
                State = Http1ReadState.ChunkSize;
                return;
            case Http1BodyMode.UntilClose:
                m.Body = new BodyBuffer(_options.Payload.MaxBodyBytes);
                m.LastByteNs = segment.TimestampNs;
                m.CompleteFrame = _newest.FrameNumber;
                m.CompleteNs = _newest.TimestampNs;
                State = Http1ReadState.UntilClose;
                return;
            case Http1BodyMode.Unknowable:
                Complete(segment, Http1ReadState.Resync);
                return;
            case Http1BodyMode.Tunnel:
                Complete(segment, Http1ReadState.Tunnel);
                return;
            case Http1BodyMode.Upgrade:
                Complete(segment, Http1ReadState.Upgraded);
                return;
            default:
                Complete(segment, Http1ReadState.StartLine);
                return;
        }
    }

    private void OnChunkSizeLine(ReadOnlySpan<byte> line, bool overflow, SegmentInfo segment)
    {
        if (overflow || !Http1Syntax.TryParseChunkSize(line, out long size))
        {
            Fail(segment, Http1Anomaly.InvalidChunkSize);
            return;
        }
        if (size == 0)
        {
            State = Http1ReadState.Trailers;
            return;
        }
        _remaining = size;
        State = Http1ReadState.ChunkData;
    }

    private void AppendBody(ReadOnlySpan<byte> bytes)
    {
        var m = _message!;
        m.Body!.Append(bytes);
        m.BodyLength += bytes.Length;
        if (bytes.Length > 0) m.HasBody = true;
    }

    /// <summary>Ends the current message at <paramref name="segment"/> and moves to <paramref name="next"/> before telling the handler.</summary>
    private void Complete(SegmentInfo segment, Http1ReadState next)
    {
        var m = _message!;
        _message = null;
        m.LastByteNs = segment.TimestampNs;
        m.CompleteFrame = _newest.FrameNumber;
        m.CompleteNs = _newest.TimestampNs;
        if (m.Body is { Truncated: true }) AddAnomaly(m, Http1Anomaly.BodyCap);
        State = next;
        _handler.OnMessageEnd(this, m);
    }

    /// <summary>Ends the current message as incomplete and resyncs.</summary>
    private void Fail(SegmentInfo segment, Http1Anomaly why, bool endOfStream = false)
    {
        var m = _message!;
        m.Incomplete = true;
        if (!endOfStream || why != Http1Anomaly.FramingGap) AddAnomaly(m, why);
        AddAnomaly(m, m.IsRequest ? Http1Anomaly.RequestIncomplete : Http1Anomaly.ResponseIncomplete);
        Complete(segment, Http1ReadState.Resync);
    }

    private static void AddAnomaly(Http1Message m, Http1Anomaly a)
    {
        if (!m.Anomalies.Contains(a)) m.Anomalies.Add(a);
    }
}
