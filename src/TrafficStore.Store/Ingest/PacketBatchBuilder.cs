using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Builds packets-table batches straight from captured frames: each frame's headers go, as a template
/// (<see cref="FrameHeaders"/>), to the frame_header column and the rest of its bytes to data — both
/// appended to growing buffers, so adding a frame allocates nothing (amortised); a frame whose headers are
/// not understood goes to data whole. Columns and order are those of
/// <see cref="TrafficTables.PacketsDefinition"/>. Store ingest builds frame batches for
/// <see cref="FrameBodyElision"/>; the node agent, which does not elide, builds whole packets
/// batches with <see cref="BuildPackets"/>.
/// </summary>
public sealed class PacketBatchBuilder
{
    /// <summary>The frame columns (the packets table without its body_* columns, which <see cref="FrameBodyElision"/> adds).</summary>
    private static readonly Schema PacketsSchema = FrameBodyElision.FrameSchema;

    // Managed buffers handed to Arrow as they are (ArrowBuffer over a byte[] is not copied; Arrow's own
    // buffer builders copy everything once more into native memory on Build).
    private ValueBuffer _ts, _capture, _frame, _conn, _iface, _link, _origLen, _namespaceOffsets, _namespaces, _offsets, _data,
        _headerOffsets, _headers, _headerValid;
    private ArrowBuffer.BitmapBuilder _connValid = new();
    private int _connNulls, _headerNulls, _dataLength, _headerLength;
    private TcpPayloadPosition[] _tcp = [];

    private int _lastCount, _lastHeaderLength;
    private int _namespaceBytes;

    public int Count { get; private set; }
    /// <summary>Frame bytes added since the last build (headers and data).</summary>
    public long DataBytes { get; private set; }

    /// <summary>An upper bound of the rows' size as the engine counts it for row groups (8 bytes per fixed-width value, plus the frame bytes).</summary>
    public long RawBytes => DataBytes + 64L * Count;
    /// <summary>Frame bytes a batch is expected to hold; the buffers are reserved for it so they do not grow by copying.</summary>
    public int ExpectedDataBytes { get; set; }

    /// <summary>Appends a frame whose bytes are kept whole (no body elision follows).</summary>
    /// <param name="connectionId">The store-wide connection id (<see cref="StoreIds.Global"/>), or null.</param>
    /// <param name="ownerNamespace">Retention namespace of the frame's connection ("" when none).</param>
    public void Add(in CaptureFrame frame, long captureId, long? connectionId, string ownerNamespace) =>
        Add(frame, captureId, connectionId, default, ownerNamespace);

    /// <param name="tcp">Where the frame's TCP payload is, as the ingest loop decoded it (default: none), for <see cref="FrameBodyElision"/>.</param>
    /// <param name="ownerNamespace">Retention namespace of the frame's connection ("" when none).</param>
    internal void Add(in CaptureFrame frame, long captureId, long? connectionId, in TcpPayloadPosition tcp = default, string ownerNamespace = "")
    {
        if (Count == 0) Start();
        if (Count == _tcp.Length) System.Array.Resize(ref _tcp, Math.Max(256, 2 * _tcp.Length));
        var layout = FrameHeaders.Parse(frame.LinkType, frame.Data);
        int split = layout.HeaderLength;
        // Elision positions are offsets in the stored data: after the headers.
        _tcp[Count] = tcp.Length > 0 && tcp.Start >= split ? tcp with { Start = tcp.Start - split } : default;
        _ts.AppendInt64(frame.TimestampNs);
        _capture.AppendInt64(captureId);
        _frame.AppendInt64(frame.Number);
        _conn.AppendInt64(connectionId ?? 0);
        _connValid.Append(connectionId.HasValue);
        if (!connectionId.HasValue) _connNulls++;
        _iface.AppendInt64(frame.InterfaceId);
        _link.AppendInt64((long)frame.LinkType);
        _origLen.AppendInt64(frame.OriginalLength);
        _namespaceBytes += _namespaces.AppendUtf8(ownerNamespace);
        _namespaceOffsets.AppendInt32(_namespaceBytes);
        if (layout.IsSplit)
        {
            FrameHeaders.WriteTemplate(layout, frame.Data, _headers.Extend(split));
            _headerLength = checked(_headerLength + split);
            SetBit(ref _headerValid, Count);
        }
        else
        {
            _headerNulls++;
        }
        _headerOffsets.AppendInt32(_headerLength);
        _data.Append(frame.Data[split..]);
        _dataLength = checked(_dataLength + frame.Data.Length - split);
        DataBytes += frame.Data.Length;
        _offsets.AppendInt32(_dataLength);
        Count++;
    }

    private void Start()
    {
        // Sized like the previous batch: appending then never reallocates (each growth is a copy into fresh pages).
        int rows = _lastCount + 64;
        _ts.Reset(8 * rows); _capture.Reset(8 * rows); _frame.Reset(8 * rows); _conn.Reset(8 * rows);
        _iface.Reset(8 * rows); _link.Reset(8 * rows); _origLen.Reset(8 * rows);
        _offsets.Reset(4 * (rows + 1));
        _namespaceOffsets.Reset(4 * (rows + 1));
        _namespaces.Reset(16 * rows);
        _namespaceBytes = 0;
        _namespaceOffsets.AppendInt32(0);
        _data.Reset(ExpectedDataBytes > 0 ? ExpectedDataBytes + (1 << 16) : 1 << 16);
        _headers.Reset(_lastHeaderLength > 0 ? _lastHeaderLength + (1 << 12) : 80 * rows);
        _headerOffsets.Reset(4 * (rows + 1));
        _headerOffsets.AppendInt32(0);
        _headerValid.Reset((rows + 7) / 8);
        _connValid = new ArrowBuffer.BitmapBuilder(rows);
        _headerLength = 0;
        _dataLength = 0;
        _tcp = new TcpPayloadPosition[rows];
        _offsets.AppendInt32(0);
    }

    /// <summary>Sets bit <paramref name="row"/> of a validity bitmap held in a value buffer (zero-filled as it grows).</summary>
    private static void SetBit(ref ValueBuffer bitmap, int row)
    {
        while (bitmap.Length <= row >> 3) bitmap.Extend(1)[0] = 0;
        bitmap.Span[row >> 3] |= (byte)(1 << (row & 7));
    }

    /// <summary>
    /// The rows added since the last call as a batch of the whole packets table (its schema), the
    /// frames as captured and the body_* columns null (no body was elided), and a fresh start.
    /// </summary>
    public RecordBatch BuildPackets() => FrameBodyElision.Whole(Build().Frames);

    /// <summary>The rows added since the last call as one batch, and a fresh start.</summary>
    internal FrameBatch Build()
    {
        int n = Count;
        if (n == 0) Start(); // an empty batch still has its one offset
        IArrowArray Longs(ref ValueBuffer b, IArrowType type, ArrowBuffer validity = default, int nulls = 0) =>
            ArrowArrayFactory.BuildArray(new ArrayData(type, n, nulls, 0, [validity, b.Take()]));
        var arrays = new IArrowArray[]
        {
            Longs(ref _ts, ArrowSchemas.TimestampNs),
            Longs(ref _capture, Int64Type.Default),
            Longs(ref _frame, Int64Type.Default),
            Longs(ref _conn, Int64Type.Default, _connNulls > 0 ? _connValid.Build() : ArrowBuffer.Empty, _connNulls),
            Longs(ref _iface, Int64Type.Default),
            Longs(ref _link, Int64Type.Default),
            Longs(ref _origLen, Int64Type.Default),
            new StringArray(n, _namespaceOffsets.Take(), _namespaces.Take(), ArrowBuffer.Empty, 0, 0),
            new BinaryArray(BinaryType.Default, n, _offsets.Take(), _data.Take(), ArrowBuffer.Empty, 0, 0),
            Headers(n),
        };
        var batch = new FrameBatch(new RecordBatch(PacketsSchema, arrays, n), _tcp);
        _tcp = [];
        _connValid = new();
        _connNulls = 0;
        _headerNulls = 0;
        _lastCount = n;
        _lastHeaderLength = _headerLength;
        Count = 0;
        DataBytes = 0;
        return batch;
    }

    private BinaryArray Headers(int n)
    {
        if (_headerNulls == 0) { _headerValid.Take(); return new BinaryArray(BinaryType.Default, n, _headerOffsets.Take(), _headers.Take(), ArrowBuffer.Empty, 0, 0); }
        while (_headerValid.Length < (n + 7) / 8) _headerValid.Extend(1)[0] = 0;
        return new BinaryArray(BinaryType.Default, n, _headerOffsets.Take(), _headers.Take(), _headerValid.Take(), _headerNulls, 0);
    }

    /// <summary>A growable little-endian value buffer whose bytes become an <see cref="ArrowBuffer"/> without a copy.</summary>
    private struct ValueBuffer
    {
        private byte[] _bytes;
        private int _length;

        public void Reset(int capacity)
        {
            // Only the written prefix is ever read (Take hands over _length bytes): no need to zero MBs per batch.
            _bytes = GC.AllocateUninitializedArray<byte>(capacity);
            _length = 0;
        }

        public void AppendInt64(long value)
        {
            Ensure(sizeof(long));
            BinaryPrimitives.WriteInt64LittleEndian(_bytes.AsSpan(_length), value);
            _length += sizeof(long);
        }

        public void AppendInt32(int value)
        {
            Ensure(sizeof(int));
            BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(_length), value);
            _length += sizeof(int);
        }

        public readonly int Length => _length;
        public readonly Span<byte> Span => _bytes.AsSpan(0, _length);

        /// <summary>Grows by <paramref name="count"/> bytes and returns them to be written.</summary>
        public Span<byte> Extend(int count)
        {
            Ensure(count);
            var span = _bytes.AsSpan(_length, count);
            _length += count;
            return span;
        }

        public void Append(ReadOnlySpan<byte> value)
        {
            Ensure(value.Length);
            value.CopyTo(_bytes.AsSpan(_length));
            _length += value.Length;
        }

        /// <summary>Appends a string as UTF-8; returns the bytes written.</summary>
        public int AppendUtf8(string value)
        {
            if (value.Length == 0) return 0;
            Ensure(System.Text.Encoding.UTF8.GetMaxByteCount(value.Length));
            int written = System.Text.Encoding.UTF8.GetBytes(value, _bytes.AsSpan(_length));
            _length += written;
            return written;
        }

        /// <summary>The bytes written so far, handed over; the buffer is empty until the next <see cref="Reset"/>.</summary>
        public ArrowBuffer Take()
        {
            var buffer = new ArrowBuffer(_bytes.AsMemory(0, _length));
            _bytes = [];
            _length = 0;
            return buffer;
        }

        private void Ensure(int more)
        {
            if (_bytes.Length - _length >= more) return;
            var grown = GC.AllocateUninitializedArray<byte>(Math.Max(checked(_length + more), Math.Max(256, 2 * _bytes.Length)));
            _bytes.AsSpan(0, _length).CopyTo(grown);
            _bytes = grown;
        }
    }
}

/// <summary>
/// Where a frame's TCP payload lies, from the ingest loop's decode: its sequence number, its offset and
/// length inside the frame bytes, and the sending endpoint. Length 0 when the frame has no TCP payload
/// inside its own bytes (not TCP, not decoded, or rebuilt from IP fragments).
/// </summary>
internal readonly record struct TcpPayloadPosition(uint Sequence, int Start, int Length, NetAddress Source, ushort SourcePort)
{
    /// <summary>The position of <paramref name="payload"/> of a decoded packet inside <paramref name="frame"/>, or none.</summary>
    public static TcpPayloadPosition Of(in DecodedPacket packet, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> payload)
    {
        if (!packet.IsTcp || packet.Reassembled || payload.IsEmpty) return default;
        // Rebuilt from IP fragments: the payload is not inside this frame.
        if (!frame.Overlaps(payload, out int start) || start < 0 || start + payload.Length > frame.Length) return default;
        return new TcpPayloadPosition(packet.Sequence, start, payload.Length, packet.Source, packet.SourcePort);
    }
}

/// <summary>A batch of frame rows (<see cref="FrameBodyElision.FrameSchema"/>) and, per row, where its TCP payload is.</summary>
internal sealed record FrameBatch(RecordBatch Frames, TcpPayloadPosition[] Tcp);
