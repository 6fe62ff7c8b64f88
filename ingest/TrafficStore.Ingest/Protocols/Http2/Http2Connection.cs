using System.Buffers.Binary;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http2.Hpack;

namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>
/// Parses one HTTP/2 connection (RFC 9113) into one <see cref="HttpExchange"/> row per stream.
/// Each direction has its own frame reader, HPACK decoder and header-block state. Rows are
/// emitted when a stream closes (END_STREAM both ways, or RST_STREAM) and at <see cref="OnEnd"/>.
/// Never throws on input: oddities become anomalies on the rows (see <see cref="Http2Anomalies"/>).
/// </summary>
public sealed class Http2Connection : IStreamParser
{
    /// <summary>RFC 9113 §3.4: the client connection preface.</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private readonly FlowContext _flow;
    private readonly IRowSink<HttpExchange> _sink;
    private readonly Http2Options _options;
    private readonly Func<long> _nextExchangeId;
    private readonly Side[] _sides;
    private readonly Dictionary<uint, Http2Stream> _streams = new();
    private readonly List<string> _anomalies = new();
    /// <summary>Recently closed streams: frames still in flight for them (after RST_STREAM) make no new row.</summary>
    private readonly HashSet<uint> _closed = new();
    private readonly Queue<uint> _closedOrder = new();
    private const int ClosedStreamsRemembered = 4096;
    private readonly string _clientIp;
    private readonly string _serverIp;
    /// <summary>Last-Stream-ID of a GOAWAY sent by the client (index 0) or the server (index 1).</summary>
    private readonly uint?[] _goAwayLastStreamId = new uint?[2];
    private bool _ended;

    /// <param name="upgraded">h2c after an HTTP/1.1 Upgrade + 101 (RFC 7540 §3.2): the client still sends the preface; stream 1 carries the response to the upgrade request, whose request half is the HTTP/1.1 message.</param>
    public Http2Connection(FlowContext flow, IRowSink<HttpExchange> sink, Http2Options options, Func<long> nextExchangeId, bool upgraded = false)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(nextExchangeId);
        _flow = flow;
        _sink = sink;
        _options = options;
        _nextExchangeId = nextExchangeId;
        _clientIp = flow.ClientIp.ToString();
        _serverIp = flow.ServerIp.ToString();
        _sides = new[] { new Side(this, FlowDirection.ClientToServer), new Side(this, FlowDirection.ServerToClient) };
        if (upgraded && GetOrCreateStream(1) is { } first)
        {
            first.ClientEnded = true;
        }
    }

    /// <summary>Connection-level anomalies so far (they are also added to every row emitted after them).</summary>
    public IReadOnlyList<string> Anomalies => _anomalies;

    /// <summary>True once the connection was recognised as picked up mid-stream (no preface).</summary>
    public bool MidStream { get; private set; }

    public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        if (_ended || data.IsEmpty) return;
        var side = _sides[(int)direction];
        if (!side.Started)
        {
            if (direction == FlowDirection.ClientToServer)
            {
                side.Started = true;
                side.PrefaceExpected = true;
            }
            else
            {
                // The server's first 9 octets decide whether its stream starts on a frame boundary
                // (they are gathered first, so the decision does not depend on segmentation).
                if (side.StartLength == 0) side.StartSegment = segment;
                int n = Math.Min(Http2FrameHeader.Size - side.StartLength, data.Length);
                data[..n].CopyTo(side.Start.AsSpan(side.StartLength));
                side.StartLength += n;
                data = data[n..];
                if (side.StartLength < Http2FrameHeader.Size) return;
                side.Started = true;
                if (!Http2FrameHeader.IsPlausible(side.Start)) side.Reader.StartResync();
                side.Reader.Feed(side.Start, side.StartSegment, side);
                if (data.IsEmpty) return;
            }
        }
        if (side.PrefaceExpected)
        {
            var preface = Preface;
            while (!data.IsEmpty && side.PrefaceMatched < preface.Length)
            {
                if (data[0] != preface[side.PrefaceMatched])
                {
                    // no preface: the capture started after it
                    side.PrefaceExpected = false;
                    PickUpMidStream(side);
                    break;
                }
                side.PrefaceMatched++;
                data = data[1..];
            }
            if (side.PrefaceMatched == preface.Length) side.PrefaceExpected = false;
            if (data.IsEmpty) return;
        }
        side.Reader.Feed(data, segment, side);
    }

    public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment)
    {
        if (_ended) return;
        var side = _sides[(int)direction];
        AddConnectionAnomaly(Http2Anomalies.DataGap);
        if (side.PrefaceExpected || (!side.Started && direction == FlowDirection.ClientToServer))
        {
            side.Started = true;
            side.PrefaceExpected = false;
            PickUpMidStream(side);
            return;
        }
        if (!side.Started && side.StartLength > 0)
        {
            // the octets gathered before the gap are not a reliable start: drop them
            side.StartLength = 0;
        }
        side.Started = true;
        AbortBlock(side);
        // a header block may have been in the gap: the dynamic table can no longer be trusted
        side.Decoder.TolerateUnknownIndexes = true;
        side.Reader.StartResync();
    }

    public void OnEnd(long timestampNs)
    {
        if (_ended) return;
        _ended = true;
        foreach (var side in _sides) AbortBlock(side);
        foreach (var stream in _streams.Values.OrderBy(s => s.Id).ToList())
        {
            if (!stream.Closed) stream.AddAnomaly(Http2Anomalies.StreamIncomplete);
            Emit(stream);
        }
        _streams.Clear();
    }

    private void PickUpMidStream(Side side)
    {
        MidStream = true;
        AddConnectionAnomaly(Http2Anomalies.MidstreamPickup);
        foreach (var s in _sides) s.Decoder.TolerateUnknownIndexes = true;
        side.Reader.StartResync();
    }

    private void AddConnectionAnomaly(string name)
    {
        if (!_anomalies.Contains(name)) _anomalies.Add(name);
        foreach (var stream in _streams.Values) stream.AddAnomaly(name);
    }

    // ------------------------------------------------------------------ frames

    private void OnFrame(Side side, in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo first, SegmentInfo last)
    {
        if (side.BlockStreamId != 0)
        {
            if (header.Type == Http2FrameType.Continuation && header.StreamId == side.BlockStreamId)
            {
                // RFC 9113 §6.10: CONTINUATION carries the rest of the field block
                ContinueBlock(side, payload, header.Has(Http2Flags.EndHeaders), last);
                return;
            }
            // §6.10: any other frame in the middle of a field block is a connection error
            if (_streams.TryGetValue(side.BlockStreamId, out var interrupted)) interrupted.AddAnomaly(Http2Anomalies.ContinuationExpected);
            AddConnectionAnomaly(Http2Anomalies.ContinuationExpected);
            AbortBlock(side);
        }

        switch (header.Type)
        {
            case Http2FrameType.Data: OnDataFrame(side, header, payload, last); break;
            case Http2FrameType.Headers: OnHeaders(side, header, payload, first, last); break;
            case Http2FrameType.Priority: ExpectLength(header, payload, 5); break;
            case Http2FrameType.RstStream: OnRstStream(header, payload); break;
            case Http2FrameType.Settings: OnSettings(side, header, payload); break;
            case Http2FrameType.PushPromise: OnPushPromise(side, header, payload, first, last); break;
            case Http2FrameType.Ping: ExpectLength(header, payload, 8); break;
            case Http2FrameType.GoAway: OnGoAway(side, payload); break;
            case Http2FrameType.WindowUpdate: ExpectLength(header, payload, 4); break;
            case Http2FrameType.Continuation: AddConnectionAnomaly(Http2Anomalies.UnexpectedContinuation); break;
            default: break; // §5.5: unknown frame types are ignored
        }
    }

    private void ExpectLength(in Http2FrameHeader header, ReadOnlySpan<byte> payload, int length)
    {
        if (payload.Length != length) AddConnectionAnomaly(Http2Anomalies.InvalidFrameSize);
    }

    /// <summary>
    /// §6.1 DATA:
    /// <code>
    /// DATA Frame {
    ///   Length (24), Type (8) = 0x00,
    ///   Unused Flags (4), PADDED Flag (1), Unused Flags (2), END_STREAM Flag (1),
    ///   Reserved (1), Stream Identifier (31),
    ///   [Pad Length (8)],
    ///   Data (..),
    ///   Padding (..2040),
    /// }
    /// </code>
    /// </summary>
    private void OnDataFrame(Side side, in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo last)
    {
        if (header.StreamId == 0) { AddConnectionAnomaly(Http2Anomalies.StreamIdZero); return; }
        var stream = GetOrCreateStream(header.StreamId);
        if (stream is null) return;
        if (!TryStripPadding(header, ref payload)) stream.AddAnomaly(Http2Anomalies.InvalidPadding);
        stream.AddData(side.FromClient, payload, header.Length);
        if (header.Has(Http2Flags.EndStreamOrAck)) EndSide(side, stream, last);
    }

    /// <summary>
    /// §6.2 HEADERS:
    /// <code>
    /// HEADERS Frame {
    ///   Length (24), Type (8) = 0x01,
    ///   Unused Flags (2), PRIORITY Flag (1), Unused Flag (1), PADDED Flag (1),
    ///   END_HEADERS Flag (1), Unused Flag (1), END_STREAM Flag (1),
    ///   Reserved (1), Stream Identifier (31),
    ///   [Pad Length (8)],
    ///   [Exclusive (1)], [Stream Dependency (31)], [Weight (8)],
    ///   Field Block Fragment (..),
    ///   Padding (..2040),
    /// }
    /// </code>
    /// </summary>
    private void OnHeaders(Side side, in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo first, SegmentInfo last)
    {
        if (header.StreamId == 0) { AddConnectionAnomaly(Http2Anomalies.StreamIdZero); return; }
        var stream = GetOrCreateStream(header.StreamId);
        bool valid = TryStripPadding(header, ref payload);
        if (valid && header.Has(Http2Flags.Priority))
        {
            if (payload.Length < 5) valid = false;
            else payload = payload[5..];
        }
        if (!valid)
        {
            stream?.AddAnomaly(Http2Anomalies.InvalidPadding);
            payload = ReadOnlySpan<byte>.Empty;
        }
        BeginBlock(side, header.StreamId, promisedStreamId: 0, header.Has(Http2Flags.EndStreamOrAck), first);
        ContinueBlock(side, payload, header.Has(Http2Flags.EndHeaders), last);
    }

    /// <summary>
    /// §6.6 PUSH_PROMISE (sent by the server on the associated stream; the field block is the
    /// request of the promised stream):
    /// <code>
    /// PUSH_PROMISE Frame {
    ///   Length (24), Type (8) = 0x05,
    ///   Unused Flags (4), PADDED Flag (1), END_HEADERS Flag (1), Unused Flags (2),
    ///   Reserved (1), Stream Identifier (31),
    ///   [Pad Length (8)],
    ///   Reserved (1), Promised Stream ID (31),
    ///   Field Block Fragment (..),
    ///   Padding (..2040),
    /// }
    /// </code>
    /// </summary>
    private void OnPushPromise(Side side, in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo first, SegmentInfo last)
    {
        if (!TryStripPadding(header, ref payload) || payload.Length < 4)
        {
            AddConnectionAnomaly(payload.Length < 4 ? Http2Anomalies.InvalidFrameSize : Http2Anomalies.InvalidPadding);
            return;
        }
        uint promised = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF;
        if (promised == 0) { AddConnectionAnomaly(Http2Anomalies.StreamIdZero); return; }
        BeginBlock(side, header.StreamId, promised, endStream: false, first);
        ContinueBlock(side, payload[4..], header.Has(Http2Flags.EndHeaders), last);
    }

    /// <summary>§6.4 RST_STREAM: Error Code (32).</summary>
    private void OnRstStream(in Http2FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length != 4) { AddConnectionAnomaly(Http2Anomalies.InvalidFrameSize); return; }
        if (header.StreamId == 0) { AddConnectionAnomaly(Http2Anomalies.StreamIdZero); return; }
        if (!_streams.TryGetValue(header.StreamId, out var stream)) return;
        stream.Row.H2ResetCode = BinaryPrimitives.ReadUInt32BigEndian(payload);
        stream.Reset = true;
        TryClose(stream);
    }

    /// <summary>§6.5 SETTINGS: (Identifier (16), Value (32)) pairs; ACK carries none.</summary>
    private void OnSettings(Side side, in Http2FrameHeader header, ReadOnlySpan<byte> payload)
    {
        if (header.Has(Http2Flags.EndStreamOrAck)) { ExpectLength(header, payload, 0); return; }
        if (payload.Length % 6 != 0) { AddConnectionAnomaly(Http2Anomalies.InvalidFrameSize); return; }
        for (int i = 0; i + 6 <= payload.Length; i += 6)
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(payload[i..]);
            uint value = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
            if (id == 0x1)
            {
                // SETTINGS_HEADER_TABLE_SIZE bounds the table the PEER's encoder may use, i.e. the
                // decoder of the opposite direction. Passive: keep the largest value announced.
                var peer = _sides[1 - (int)side.Direction].Decoder;
                peer.MaxTableSizeLimit = (int)Math.Min(int.MaxValue, Math.Max(peer.MaxTableSizeLimit, value));
            }
        }
    }

    /// <summary>§6.8 GOAWAY: Reserved (1), Last-Stream-ID (31), Error Code (32), Additional Debug Data (..).</summary>
    private void OnGoAway(Side side, ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 8) { AddConnectionAnomaly(Http2Anomalies.InvalidFrameSize); return; }
        uint last = BinaryPrimitives.ReadUInt32BigEndian(payload) & 0x7FFF_FFFF;
        _goAwayLastStreamId[(int)side.Direction] = last;
        foreach (var stream in _streams.Values)
        {
            if (IsUnprocessedAfterGoAway(stream.Id)) stream.AddAnomaly(Http2Anomalies.GoawayUnprocessed);
        }
    }

    /// <summary>Streams above the Last-Stream-ID that the GOAWAY's receiver initiated were not processed (§6.8).</summary>
    private bool IsUnprocessedAfterGoAway(uint streamId)
    {
        bool clientInitiated = (streamId & 1) == 1;
        // a GOAWAY from the server (index 1) speaks of client-initiated streams and vice versa
        uint? last = clientInitiated ? _goAwayLastStreamId[1] : _goAwayLastStreamId[0];
        return last is { } l && streamId > l;
    }

    /// <summary>§6.1: strips Pad Length and Padding; false when the padding is not shorter than the payload.</summary>
    private static bool TryStripPadding(in Http2FrameHeader header, ref ReadOnlySpan<byte> payload)
    {
        if (!header.Has(Http2Flags.Padded)) return true;
        if (payload.IsEmpty) return false;
        int pad = payload[0];
        if (pad >= payload.Length)
        {
            payload = ReadOnlySpan<byte>.Empty;
            return false;
        }
        payload = payload.Slice(1, payload.Length - 1 - pad);
        return true;
    }

    // ------------------------------------------------------------------ header blocks

    private static void BeginBlock(Side side, uint streamId, uint promisedStreamId, bool endStream, SegmentInfo first)
    {
        side.BlockStreamId = streamId;
        side.BlockPromisedStreamId = promisedStreamId;
        side.BlockEndStream = endStream;
        side.BlockFirstSegment = first;
        side.BlockFields.Clear();
    }

    private void ContinueBlock(Side side, ReadOnlySpan<byte> fragment, bool endHeaders, SegmentInfo last)
    {
        var status = side.Decoder.Decode(fragment, endHeaders, side.BlockFields);
        // before END_HEADERS wait for CONTINUATION frames (after an error the decoder skips them)
        if (endHeaders) CompleteBlock(side, status, last);
    }

    private void CompleteBlock(Side side, HpackStatus status, SegmentInfo last)
    {
        uint streamId = side.BlockStreamId;
        uint promised = side.BlockPromisedStreamId;
        side.BlockStreamId = 0;
        var target = GetOrCreateStream(promised != 0 ? promised : streamId);
        if (target is null) return;
        if (status == HpackStatus.InvalidData)
        {
            target.AddAnomaly(Http2Anomalies.HpackDecodeError);
            AddConnectionAnomaly(Http2Anomalies.HpackDecodeError);
            // the dynamic table may now differ from the peers'; go on leniently
            side.Decoder.TolerateUnknownIndexes = true;
        }
        if (side.Decoder.HeaderListTruncated) target.AddAnomaly(Http2Anomalies.HeaderListTooLarge);
        if (side.Decoder.UnknownIndexes > 0) target.AddAnomaly(Http2Anomalies.HpackUnknownIndex);

        var fields = side.BlockFields;
        long firstNs = side.BlockFirstSegment.TimestampNs;
        if (promised != 0)
        {
            // the promised stream is reserved: the client sends nothing on it (§8.4)
            target.ClientEnded = true;
            target.SetRequest(fields, last.FrameNumber, last.TimestampNs, firstNs);
            target.Row.RequestLastByteNs ??= last.TimestampNs;
        }
        else if (side.FromClient)
        {
            if (!target.RequestHeadersSeen)
            {
                target.RequestHeadersSeen = true;
                target.SetRequest(fields, last.FrameNumber, last.TimestampNs, firstNs);
            }
            else
            {
                target.AddRequestTrailers(fields);
            }
        }
        else
        {
            target.AddResponseBlock(fields, last.FrameNumber, last.TimestampNs, firstNs);
        }
        fields.Clear();
        if (promised == 0 && side.BlockEndStream) EndSide(side, target, last);
    }

    /// <summary>A header block cut short (by another frame, a gap or the end of the capture).</summary>
    private void AbortBlock(Side side)
    {
        if (side.BlockStreamId == 0) return;
        // end the decoder's block (its fields are dropped): the entries the rest of the block
        // would have inserted are unknown, so later references to them are tolerated
        side.Decoder.Decode(ReadOnlySpan<byte>.Empty, true, side.BlockFields);
        side.Decoder.TolerateUnknownIndexes = true;
        if (_streams.TryGetValue(side.BlockPromisedStreamId != 0 ? side.BlockPromisedStreamId : side.BlockStreamId, out var stream))
            stream.AddAnomaly(Http2Anomalies.HpackDecodeError);
        side.BlockStreamId = 0;
        side.BlockFields.Clear();
    }

    // ------------------------------------------------------------------ streams

    private Http2Stream? GetOrCreateStream(uint id)
    {
        if (_streams.TryGetValue(id, out var stream)) return stream;
        if (_closed.Contains(id)) return null;
        if (_streams.Count >= _options.MaxOpenStreams)
        {
            AddConnectionAnomaly(Http2Anomalies.TooManyStreams);
            return null;
        }
        var row = new HttpExchange
        {
            ExchangeId = _nextExchangeId(),
            ConnectionId = _flow.ConnectionId,
            Protocol = "HTTP/2",
            H2StreamId = id,
            ClientIp = _clientIp,
            ClientPort = _flow.ClientPort,
            ServerIp = _serverIp,
            ServerPort = _flow.ServerPort,
        };
        foreach (var a in _anomalies) row.Anomalies.Add(a);
        stream = new Http2Stream(id, row, _options);
        if (IsUnprocessedAfterGoAway(id)) stream.AddAnomaly(Http2Anomalies.GoawayUnprocessed);
        _streams[id] = stream;
        return stream;
    }

    private void EndSide(Side side, Http2Stream stream, SegmentInfo last)
    {
        if (side.FromClient)
        {
            stream.ClientEnded = true;
            stream.Row.RequestLastByteNs = last.TimestampNs;
        }
        else
        {
            stream.ServerEnded = true;
            stream.Row.ResponseLastByteNs = last.TimestampNs;
        }
        TryClose(stream);
    }

    private void TryClose(Http2Stream stream)
    {
        if (!stream.Closed) return;
        _streams.Remove(stream.Id);
        _closed.Add(stream.Id);
        _closedOrder.Enqueue(stream.Id);
        if (_closedOrder.Count > ClosedStreamsRemembered) _closed.Remove(_closedOrder.Dequeue());
        Emit(stream);
    }

    private void Emit(Http2Stream stream)
    {
        if (!stream.HasRow) return;
        stream.Finish();
        HttpSignals.Apply(stream.Row, _options.Signals);
        _sink.Add(stream.Row);
    }

    /// <summary>Per-direction state: frame reader, HPACK decoder, the open header block.</summary>
    private sealed class Side : IHttp2FrameHandler
    {
        private readonly Http2Connection _connection;

        public Side(Http2Connection connection, FlowDirection direction)
        {
            _connection = connection;
            Direction = direction;
            Reader = new Http2FrameReader(connection._options.MaxFrameSize, connection._options.MaxResyncBytes);
            Decoder = new HpackDecoder(connection._options.MaxHeaderListSize);
        }

        public FlowDirection Direction { get; }
        public bool FromClient => Direction == FlowDirection.ClientToServer;
        public Http2FrameReader Reader { get; }
        public HpackDecoder Decoder { get; }
        public bool Started { get; set; }
        /// <summary>The server's first octets, gathered until a frame header's worth decides how to start.</summary>
        public byte[] Start { get; } = new byte[Http2FrameHeader.Size];
        public int StartLength { get; set; }
        public SegmentInfo StartSegment { get; set; }
        public bool PrefaceExpected { get; set; }
        public int PrefaceMatched { get; set; }

        /// <summary>Stream of the field block awaiting CONTINUATION frames; 0 = none.</summary>
        public uint BlockStreamId { get; set; }
        public uint BlockPromisedStreamId { get; set; }
        public bool BlockEndStream { get; set; }
        public SegmentInfo BlockFirstSegment { get; set; }
        public List<KeyValuePair<string, string>> BlockFields { get; } = new();

        public void OnFrame(in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo firstSegment, SegmentInfo lastSegment) =>
            _connection.OnFrame(this, header, payload, firstSegment, lastSegment);

        public void OnFrameTooLarge(in Http2FrameHeader header)
        {
            _connection.AddConnectionAnomaly(Http2Anomalies.FrameTooLarge);
            if (header.StreamId != 0 && _connection._streams.TryGetValue(header.StreamId, out var stream))
                stream.AddAnomaly(Http2Anomalies.FrameTooLarge);
        }
    }
}
