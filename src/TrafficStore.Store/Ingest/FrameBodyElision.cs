using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Keeps HTTP body bytes once: a TCP frame whose payload bytes equal bytes of an HTTP body that the
/// payloads table stores is written without those bytes, and its body_* columns say where they are
/// (payloads row, offset in its body, position in the frame, length). Reads put them back
/// (<see cref="Client.FrameBodySplicer"/>), so queries and pcap export still see every frame whole.
/// </summary>
/// <remarks>
/// <para>Ordering: a body is known only when its message completes, after its frames. Frame batches
/// are therefore held back (<see cref="Offer"/>, about 16 MiB of frames): a batch is matched against
/// every body completed until it leaves that window, then sent. Frames of a body longer than the window
/// that were sent before it completed stay whole (correct, only less compact).</para>
/// <para>Matching is by content and sequence number, so it needs no parser state: a body is anchored
/// once (its first bytes found in a frame, or a frame's first bytes found in it) to the TCP sequence
/// number of its first byte in the sending direction; every other frame of that direction maps to a
/// body offset by sequence arithmetic and is elided only when the overlapping bytes are equal, byte
/// for byte. Retransmissions with different bytes, chunked or HTTP/2 framing, bodies cut by a cap:
/// whatever is not equal is stored in the frame as captured. One range per frame (the longest).</para>
/// </remarks>
internal sealed class FrameBodyElision
{
    /// <summary>Shorter overlaps are not worth a reference (five small column values).</summary>
    public const int MinElidedBytes = 64;
    private const int AnchorBytes = 32;
    private const int MaxAnchorAttempts = 16;
    /// <summary>The packets columns up to and including data; the body_* columns follow, then frame_header (packets v4).</summary>
    private const int FrameColumnCount = 9;
    private const int BodyColumnCount = 5;
    private const int HeaderColumn = FrameColumnCount + BodyColumnCount;

    /// <summary>The packets columns the frame builder fills (the table without its body_* columns): the frame columns, then frame_header.</summary>
    public static readonly Schema FrameSchema = BuildFrameSchema();
    private static readonly Schema PacketsSchema = ArrowSchemas.ToSchema(TrafficTables.PacketsDefinition);

    private readonly Dictionary<long, List<Body>> _bodies = new();
    private readonly Queue<(FrameBatch Frames, long Number)> _held = new();
    private readonly List<Body> _registeredSince = new();
    private readonly List<long> _emptied = new();
    private readonly long _holdBackBytes;
    private long _heldBytes, _offered;

    /// <param name="holdBackBytes">
    /// Frame bytes held back before the oldest held batch is written: a body whose frames span more
    /// than this before it completes keeps its earliest frames whole.
    /// </param>
    public FrameBodyElision(long holdBackBytes = DefaultHoldBackBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(holdBackBytes);
        _holdBackBytes = holdBackBytes;
    }

    /// <summary>Batches are about one row group (1 MiB) under bulk load; hold ~16 of them.</summary>
    public const long DefaultHoldBackBytes = 16L << 20;

    /// <summary>Frames elided so far and bytes left out of them.</summary>
    public long ElidedFrames { get; private set; }
    public long ElidedBytes { get; private set; }

    /// <summary>
    /// A body the payloads table stores (row key: store-wide exchange id and direction). Its message's first and
    /// last byte times, when known, bound the frames tried as its anchor.
    /// </summary>
    public void AddBody(long connectionId, long exchangeId, string direction, byte[]? body, long? firstByteNs, long? lastByteNs)
    {
        if (body is null || body.Length < MinElidedBytes) return;
        var entry = new Body(connectionId, exchangeId, direction, body, firstByteNs ?? long.MinValue, lastByteNs ?? long.MaxValue);
        if (!_bodies.TryGetValue(connectionId, out var list)) _bodies[connectionId] = list = [];
        list.Add(entry);
        _registeredSince.Add(entry);
    }

    /// <summary>
    /// Takes a full batch of frames (<see cref="FrameSchema"/>, with where each frame's TCP payload is, as the
    /// ingest loop decoded it: frames are not decoded again here) and returns, oldest first, the held
    /// batches that leave the hold-back window, their bodies elided (packets schema). References is
    /// true when a returned batch names payloads rows: the caller appends pending payloads first.
    /// </summary>
    public List<(RecordBatch Frames, bool References)> Offer(FrameBatch frames)
    {
        // Bodies completed while this batch was being filled can have frames in it or in any held
        // batch, never in a later one: the batch number bounds how long they are kept.
        long number = ++_offered;
        foreach (var b in _registeredSince) b.LastBatch = number;
        _registeredSince.Clear();
        _held.Enqueue((frames, number));
        _heldBytes += FrameBytes(frames);
        var ready = new List<(RecordBatch, bool)>();
        while (_held.Count > 1 && _heldBytes > _holdBackBytes) ready.Add(Release());
        return ready;
    }

    /// <summary>Every batch still held (at the end of the capture), elided against every body known.</summary>
    public List<(RecordBatch Frames, bool References)> Drain()
    {
        foreach (var b in _registeredSince) b.LastBatch = long.MaxValue;
        _registeredSince.Clear();
        var ready = new List<(RecordBatch, bool)>();
        while (_held.Count > 0) ready.Add(Release());
        _bodies.Clear();
        return ready;
    }

    private (RecordBatch, bool) Release()
    {
        var (frames, number) = _held.Dequeue();
        _heldBytes -= FrameBytes(frames);
        var elided = Elide(frames, out bool references);
        // Bodies whose frames all lie in this batch or earlier are done with.
        _emptied.Clear();
        foreach (var (connection, list) in _bodies)
            if (list.RemoveAll(b => b.LastBatch <= number) > 0 && list.Count == 0) _emptied.Add(connection);
        foreach (var connection in _emptied) _bodies.Remove(connection);
        return (elided, references);
    }

    private static long FrameBytes(FrameBatch frames)
    {
        var data = (BinaryArray)frames.Frames.Column(FrameColumnCount - 1);
        return data.Length == 0 ? 0 : data.ValueOffsets[data.Length] - data.ValueOffsets[0];
    }

    private RecordBatch Elide(FrameBatch frames, out bool references)
    {
        var batch = frames.Frames;
        int n = batch.Length;
        var ts = (TimestampArray)batch.Column(0);
        var conn = (Int64Array)batch.Column(3);
        var data = (BinaryArray)batch.Column(FrameColumnCount - 1);

        Match[]? matches = null;
        for (int i = 0; i < n && _bodies.Count > 0; i++)
        {
            if (conn.GetValue(i) is not long c || !_bodies.TryGetValue(c, out var bodies)) continue;
            ref readonly var tcp = ref frames.Tcp[i];
            if (tcp.Length < MinElidedBytes) continue;
            var payload = data.GetBytes(i).Slice(tcp.Start, tcp.Length);
            long timestampNs = ts.GetValue(i) ?? 0;
            var source = (tcp.Source, tcp.SourcePort);
            Match best = default;
            foreach (var body in bodies)
            {
                if (!body.Anchored && timestampNs >= body.FirstByteNs && timestampNs <= body.LastByteNs)
                    TryAnchor(body, tcp.Sequence, payload, source);
                if (!body.Anchored || body.Source != source) continue;
                var m = Overlap(body, tcp.Sequence, payload, tcp.Start);
                if (m.Length > best.Length) best = m;
            }
            if (best.Body is null) continue;
            matches ??= new Match[n];
            matches[i] = best;
        }
        references = matches is not null;
        return Build(batch, data, matches);
    }

    /// <summary>
    /// Finds the sequence number of the body's first byte from one frame of its connection: the body's
    /// first bytes inside the payload (the frame where the headers end), or the payload's first bytes inside
    /// the body (a frame in the middle). Accepted only when that frame's whole overlap is equal.
    /// </summary>
    private static void TryAnchor(Body body, uint sequence, ReadOnlySpan<byte> payload, (NetAddress, ushort) source)
    {
        if (payload.Length < AnchorBytes) return;
        var start = body.Bytes.AsSpan(0, AnchorBytes);
        int at = payload.IndexOf(start);
        uint first;
        if (at >= 0) first = unchecked(sequence + (uint)at);
        else
        {
            // Scanning the body costs its length: only for the first few frames of the message.
            if (body.Attempts >= MaxAnchorAttempts) return;
            body.Attempts++;
            int pos = body.Bytes.AsSpan().IndexOf(payload[..AnchorBytes]);
            if (pos < 0) return;
            first = unchecked(sequence - (uint)pos);
        }
        body.FirstSequence = first;
        body.Source = source;
        body.Anchored = true;
        if (Overlap(body, sequence, payload, 0).Length < AnchorBytes) body.Anchored = false; // not this body's bytes after all
    }

    /// <summary>The equal overlap of a payload with the body, by sequence arithmetic (32-bit wrap).</summary>
    private static Match Overlap(Body body, uint sequence, ReadOnlySpan<byte> payload, int payloadStart)
    {
        long rel = unchecked((int)(sequence - body.FirstSequence)); // body offset of payload[0]
        long lo = Math.Max(0, rel), hi = Math.Min(body.Bytes.Length, rel + payload.Length);
        if (hi - lo < MinElidedBytes) return default;
        int len = (int)(hi - lo);
        if (!payload.Slice((int)(lo - rel), len).SequenceEqual(body.Bytes.AsSpan((int)lo, len))) return default;
        return new Match(body, (int)lo, payloadStart + (int)(lo - rel), len);
    }

    /// <summary>Frames kept whole: the packets table's batch with every body_* column null.</summary>
    internal static RecordBatch Whole(RecordBatch frames) =>
        Assemble(frames, (BinaryArray)frames.Column(FrameColumnCount - 1), null, out _, out _);

    private RecordBatch Build(RecordBatch batch, BinaryArray data, Match[]? matches)
    {
        var packets = Assemble(batch, data, matches, out int matched, out long elidedBytes);
        ElidedFrames += matched;
        ElidedBytes += elidedBytes;
        return packets;
    }

    private static RecordBatch Assemble(RecordBatch batch, BinaryArray data, Match[]? matches, out int matched, out long elidedBytes)
    {
        int n = batch.Length;
        var arrays = new IArrowArray[PacketsSchema.FieldsList.Count];
        for (int c = 0; c < FrameColumnCount; c++) arrays[c] = batch.Column(c);
        arrays[HeaderColumn] = batch.Column(FrameColumnCount);
        matched = 0;
        elidedBytes = 0;
        if (matches is null)
        {
            // No frame of the batch names a body (most batches): the body_* columns are all null and share
            // zeroed buffers — validity all clear, values and offsets zero.
            var none = new ArrowBuffer(new byte[(n + 7) / 8]);
            var zeros = new ArrowBuffer(new byte[8 * n]);
            var zeroOffsets = new ArrowBuffer(new byte[4 * (n + 1)]);
            arrays[FrameColumnCount] = new Int64Array(zeros, none, n, n, 0);
            arrays[FrameColumnCount + 1] = new StringArray(n, zeroOffsets, ArrowBuffer.Empty, none, n, 0);
            for (int c = FrameColumnCount + 2; c < HeaderColumn; c++) arrays[c] = new Int64Array(zeros, none, n, n, 0);
            return new RecordBatch(PacketsSchema, arrays, n);
        }
        // The body_* columns are written as buffers, not appended row by row: only a few rows match.
        var bitmap = new byte[(n + 7) / 8];
        var exchange = new long[n];
        var offset = new long[n];
        var at = new long[n];
        var length = new long[n];
        var directionOffsets = new int[n + 1];
        var directionBytes = new List<byte>();
        var bytes = new ArrowBuffer.Builder<byte>(data.ValueOffsets[n] - data.ValueOffsets[0]);
        var offsets = new ArrowBuffer.Builder<int>(n + 1);
        offsets.Append(0);
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            var frame = data.GetBytes(i);
            var m = matches[i];
            if (m.Body is null)
            {
                bytes.Append(frame);
                total += frame.Length;
            }
            else
            {
                bytes.Append(frame[..m.At]);
                bytes.Append(frame[(m.At + m.Length)..]);
                total += frame.Length - m.Length;
                bitmap[i >> 3] |= (byte)(1 << (i & 7));
                exchange[i] = m.Body.ExchangeId; offset[i] = m.Offset; at[i] = m.At; length[i] = m.Length;
                directionBytes.AddRange(System.Text.Encoding.UTF8.GetBytes(m.Body.Direction));
                matched++;
                elidedBytes += m.Length;
            }
            offsets.Append(total);
            directionOffsets[i + 1] = directionBytes.Count;
        }
        arrays[FrameColumnCount - 1] = new BinaryArray(BinaryType.Default, n, offsets.Build(), bytes.Build(), ArrowBuffer.Empty, 0, 0);
        int nulls = n - matched;
        var validity = new ArrowBuffer(bitmap);
        Int64Array Longs(long[] values) => new(new ArrowBuffer(MemoryMarshal.AsBytes(values.AsSpan()).ToArray()), validity, n, nulls, 0);
        arrays[FrameColumnCount] = Longs(exchange);
        arrays[FrameColumnCount + 1] = new StringArray(n, new ArrowBuffer(MemoryMarshal.AsBytes(directionOffsets.AsSpan()).ToArray()),
            new ArrowBuffer(directionBytes.ToArray()), validity, nulls, 0);
        arrays[FrameColumnCount + 2] = Longs(offset);
        arrays[FrameColumnCount + 3] = Longs(at);
        arrays[FrameColumnCount + 4] = Longs(length);
        return new RecordBatch(PacketsSchema, arrays, n);
    }

    private static Schema BuildFrameSchema()
    {
        var full = ArrowSchemas.ToSchema(TrafficTables.PacketsDefinition);
        if (full.FieldsList[FrameColumnCount - 1].Name != "data" || full.FieldsList[FrameColumnCount].Name != "body_exchange_id"
            || full.FieldsList.Count != HeaderColumn + 1 || full.FieldsList[HeaderColumn].Name != "frame_header")
            throw new InvalidOperationException("packets columns: the frame columns end with data, then the body_* columns, then frame_header");
        var builder = new Schema.Builder();
        for (int c = 0; c < FrameColumnCount; c++) builder.Field(full.FieldsList[c]);
        builder.Field(full.FieldsList[HeaderColumn]);
        foreach (var (k, v) in full.Metadata ?? new Dictionary<string, string>()) builder.Metadata(k, v);
        return builder.Build();
    }

    private sealed class Body(long connectionId, long exchangeId, string direction, byte[] bytes, long firstByteNs, long lastByteNs)
    {
        public long FirstByteNs { get; } = firstByteNs;
        public long LastByteNs { get; } = lastByteNs;
        public long ConnectionId { get; } = connectionId;
        public long ExchangeId { get; } = exchangeId;
        public string Direction { get; } = direction;
        public byte[] Bytes { get; } = bytes;
        public bool Anchored { get; set; }
        public uint FirstSequence { get; set; }
        public (NetAddress, ushort) Source { get; set; }
        public int Attempts { get; set; }
        /// <summary>Number of the last batch that can hold its frames (set when that batch is offered).</summary>
        public long LastBatch { get; set; } = long.MaxValue;
    }

    private readonly record struct Match(Body? Body, int Offset, int At, int Length);
}

/// <summary>
/// Frames held together with the HTTP bodies completed meanwhile, for a producer that ships both in
/// groups (the node agent): frames go in as captured (with the decoded packet, for where their TCP
/// payload is), bodies as their payloads rows are made, and <see cref="Release"/> returns every held
/// frame elided against the bodies added since the previous release, then forgets those bodies. So a
/// released frame refers only to payloads rows of its own group, which the caller ships first and
/// with it. Not thread-safe (the caller locks).
/// </summary>
public sealed class FrameBodyGroup
{
    private readonly PacketBatchBuilder _builder = new();
    // Never releases on its own: the caller's bounds (bytes, time) decide when the group ends.
    private readonly FrameBodyElision _elision = new(long.MaxValue);
    private readonly long _batchBytes;
    private long _cutBytes;
    private int _cutFrames;

    /// <param name="batchBytes">A packets batch is cut once it holds this many bytes (frame bytes plus fixed-width columns).</param>
    public FrameBodyGroup(long batchBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchBytes, 1);
        _batchBytes = batchBytes;
    }

    /// <summary>Frames held and their size as <see cref="PacketBatchBuilder.RawBytes"/> counts it.</summary>
    public int HeldFrames => _cutFrames + _builder.Count;
    public long HeldBytes => _cutBytes + _builder.RawBytes;
    /// <summary>Frames elided so far and body bytes left out of them.</summary>
    public long ElidedFrames => _elision.ElidedFrames;
    public long ElidedBytes => _elision.ElidedBytes;

    /// <param name="connectionId">The store-wide connection id (<see cref="StoreIds.Global"/>), or null.</param>
    /// <param name="payload">The TCP payload of <paramref name="packet"/> as the pipeline decoded it (inside the frame's bytes).</param>
    public void AddFrame(in CaptureFrame frame, long captureId, long? connectionId, string ownerNamespace, bool decoded, in DecodedPacket packet, ReadOnlySpan<byte> payload)
    {
        var tcp = decoded ? TcpPayloadPosition.Of(packet, frame.Data, payload) : default;
        _builder.Add(frame, captureId, connectionId, tcp, ownerNamespace);
        if (_builder.RawBytes >= _batchBytes) Cut();
    }

    /// <summary>A body its payloads row stores; ids are store-wide (<see cref="StoreIds.Global"/>), as in that row.</summary>
    public void AddBody(long connectionId, long exchangeId, string direction, byte[]? body, long? firstByteNs, long? lastByteNs) =>
        _elision.AddBody(connectionId, exchangeId, direction, body, firstByteNs, lastByteNs);

    /// <summary>
    /// Every held frame as packets batches (oldest first), elided against the bodies added since the last
    /// release, which are then forgotten; references is true when some frame names a payloads row.
    /// </summary>
    public List<RecordBatch> Release(out bool references)
    {
        if (_builder.Count > 0) Cut();
        references = false;
        var batches = new List<RecordBatch>();
        foreach (var (frames, refers) in _elision.Drain())
        {
            batches.Add(frames);
            references |= refers;
        }
        _cutBytes = 0;
        _cutFrames = 0;
        return batches;
    }

    private void Cut()
    {
        _cutBytes += _builder.RawBytes;
        _cutFrames += _builder.Count;
        var none = _elision.Offer(_builder.Build());
        System.Diagnostics.Debug.Assert(none.Count == 0);
    }
}
