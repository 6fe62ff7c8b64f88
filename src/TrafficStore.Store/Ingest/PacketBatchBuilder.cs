using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Builds packets-table batches straight from captured frames: the frame bytes are appended to one
/// growing buffer, so adding a frame allocates nothing (amortised). Columns and order are those of
/// <see cref="TrafficTables.PacketsDefinition"/>.
/// </summary>
internal sealed class PacketBatchBuilder
{
    /// <summary>The frame columns (the packets table without its body_* columns, which <see cref="FrameBodyElision"/> adds).</summary>
    private static readonly Schema PacketsSchema = FrameBodyElision.FrameSchema;

    private ArrowBuffer.Builder<long> _ts = new(), _capture = new(), _frame = new(), _conn = new(), _iface = new(), _link = new(), _origLen = new();
    private ArrowBuffer.BitmapBuilder _connValid = new();
    private ArrowBuffer.Builder<int> _offsets = new();
    private ArrowBuffer.Builder<byte> _data = new();
    private int _connNulls;
    private TcpPayloadPosition[] _tcp = [];

    private int _lastCount;

    public int Count { get; private set; }
    public long DataBytes { get; private set; }
    /// <summary>An upper bound of the rows' size as the engine counts it for row groups (8 bytes per fixed-width value, plus the frame bytes).</summary>
    public long RawBytes => DataBytes + 64L * Count;
    /// <summary>Frame bytes a batch is expected to hold; the buffers are reserved for it so they do not grow by copying.</summary>
    public int ExpectedDataBytes { get; set; }

    /// <param name="tcp">Where the frame's TCP payload is, as the ingest loop decoded it (default: none), for <see cref="FrameBodyElision"/>.</param>
    public void Add(in CaptureFrame frame, long captureId, long? connectionId, in TcpPayloadPosition tcp = default)
    {
        if (Count == 0) Start();
        if (Count == _tcp.Length) System.Array.Resize(ref _tcp, Math.Max(256, 2 * _tcp.Length));
        _tcp[Count] = tcp;
        _ts.Append(frame.TimestampNs);
        _capture.Append(captureId);
        _frame.Append(frame.Number);
        _conn.Append(connectionId ?? 0);
        _connValid.Append(connectionId.HasValue);
        if (!connectionId.HasValue) _connNulls++;
        _iface.Append(frame.InterfaceId);
        _link.Append((long)frame.LinkType);
        _origLen.Append(frame.OriginalLength);
        _data.Append(frame.Data);
        DataBytes += frame.Data.Length;
        _offsets.Append(checked((int)DataBytes));
        Count++;
    }

    private void Start()
    {
        // Sized like the previous batch: appending then never reallocates (each growth is a copy into fresh pages).
        int rows = _lastCount + 64;
        foreach (var b in new[] { _ts, _capture, _frame, _conn, _iface, _link, _origLen }) b.Reserve(rows);
        _offsets.Reserve(rows + 1);
        _tcp = new TcpPayloadPosition[rows];
        if (ExpectedDataBytes > 0) _data.Reserve(ExpectedDataBytes + (1 << 16));
        _offsets.Append(0);
    }

    /// <summary>The rows added since the last call as one batch, and a fresh start.</summary>
    public FrameBatch Build()
    {
        int n = Count;
        IArrowArray Longs(ArrowBuffer.Builder<long> b, IArrowType type, ArrowBuffer validity = default, int nulls = 0) =>
            ArrowArrayFactory.BuildArray(new ArrayData(type, n, nulls, 0, [validity, b.Build()]));
        var arrays = new IArrowArray[]
        {
            Longs(_ts, ArrowSchemas.TimestampNs),
            Longs(_capture, Int64Type.Default),
            Longs(_frame, Int64Type.Default),
            Longs(_conn, Int64Type.Default, _connNulls > 0 ? _connValid.Build() : ArrowBuffer.Empty, _connNulls),
            Longs(_iface, Int64Type.Default),
            Longs(_link, Int64Type.Default),
            Longs(_origLen, Int64Type.Default),
            new BinaryArray(BinaryType.Default, n, _offsets.Build(), _data.Build(), ArrowBuffer.Empty, 0, 0),
        };
        var batch = new FrameBatch(new RecordBatch(PacketsSchema, arrays, n), _tcp);
        _tcp = [];
        _ts = new(); _capture = new(); _frame = new(); _conn = new(); _iface = new(); _link = new(); _origLen = new();
        _connValid = new(); _offsets = new(); _data = new();
        _connNulls = 0;
        _lastCount = n;
        Count = 0;
        DataBytes = 0;
        return batch;
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
