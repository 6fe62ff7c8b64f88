using Apache.Arrow;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Puts frames read about in time order back into capture order with bounded memory. The store keeps
/// packets sorted by timestamp within a segment, but a capture's timestamps may step back (multi-queue
/// NICs, merged interfaces), and an export reproduces the capture: within one capture, frames in
/// frame-number order. Frames of several captures keep the places their capture's frames had in the
/// stream (each capture's frames sorted by frame number into them).
/// </summary>
/// <remarks>
/// Frames stay in their record batches (no copy); the buffer holds at most <c>reorderFrames</c> frames and,
/// beyond one batch, <c>reorderBytes</c> of pinned batches, so the caller takes frames out as soon as
/// <see cref="NeedsTake"/> says so. A frame whose capture predecessor arrives after the window has moved on
/// is written late: counted in <see cref="OutOfOrder"/>, which the export reports as a warning.
/// </remarks>
internal sealed class CaptureOrderBuffer
{
    /// <summary>A batch with frames still in the buffer, and its columns.</summary>
    internal sealed class Pinned
    {
        public Pinned(RecordBatch batch)
        {
            Batch = batch;
            Timestamp = (TimestampArray)batch.Column("ts");
            Capture = (Int64Array)batch.Column("capture_id");
            Frame = (Int64Array)batch.Column("frame");
            Interface = (Int64Array)batch.Column("interface_id");
            LinkType = (Int64Array)batch.Column("link_type");
            OriginalLength = (Int64Array)batch.Column("orig_len");
            Data = (BinaryArray)batch.Column("data");
            Remaining = batch.Length;
            Bytes = Data.ValueBuffer.Length + 8L * 6 * batch.Length;
        }

        public RecordBatch Batch { get; }
        public TimestampArray Timestamp { get; }
        public Int64Array Capture { get; }
        public Int64Array Frame { get; }
        public Int64Array Interface { get; }
        public Int64Array LinkType { get; }
        public Int64Array OriginalLength { get; }
        public BinaryArray Data { get; }
        public long Bytes { get; }
        public int Remaining { get; set; }

        public ExportFrame this[int row] => new(
            Capture.GetValue(row) ?? 0, Interface.GetValue(row) ?? 0, (int)(LinkType.GetValue(row) ?? 0),
            Timestamp.GetValue(row) ?? 0, Data.GetBytes(row), OriginalLength.GetValue(row) ?? 0);
    }

    private readonly int _reorderFrames;
    private readonly long _reorderBytes;
    private readonly Queue<long> _arrival = new(); // the capture of each buffered frame, in arrival order
    // One queue per capture, kept when empty: an export holds few captures, and reusing them keeps Add allocation-free.
    private readonly Dictionary<long, PriorityQueue<(Pinned Batch, int Row), long>> _byCapture = new();
    private readonly Dictionary<long, long> _lastTaken = new();

    public CaptureOrderBuffer(int reorderFrames, long reorderBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(reorderFrames, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(reorderBytes);
        _reorderFrames = reorderFrames;
        _reorderBytes = reorderBytes;
    }

    public int BufferedFrames => _arrival.Count;

    /// <summary>Batches with frames still in the buffer.</summary>
    public int PinnedBatches { get; private set; }

    public long PinnedBytes { get; private set; }

    /// <summary>Frames taken after a later frame of their capture (the window was too small for them).</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>True while the buffer holds more than its window: take frames until it is false.</summary>
    public bool NeedsTake => _arrival.Count > _reorderFrames || (PinnedBatches > 1 && PinnedBytes > _reorderBytes);

    public void Add(RecordBatch batch)
    {
        if (batch.Length == 0) return;
        var pinned = new Pinned(batch);
        PinnedBatches++;
        PinnedBytes += pinned.Bytes;
        for (int row = 0; row < batch.Length; row++)
        {
            long capture = pinned.Capture.GetValue(row) ?? 0;
            if (!_byCapture.TryGetValue(capture, out var queue)) _byCapture[capture] = queue = new();
            queue.Enqueue((pinned, row), pinned.Frame.GetValue(row) ?? 0);
            _arrival.Enqueue(capture);
        }
    }

    /// <summary>The frame <see cref="TryTake"/> would return next, left in the buffer.</summary>
    public bool TryPeek(out Pinned batch, out int row)
    {
        if (!_arrival.TryPeek(out long capture) || !_byCapture[capture].TryPeek(out var item, out _))
        {
            batch = null!;
            row = -1;
            return false;
        }
        (batch, row) = item;
        return true;
    }

    /// <summary>The next frame in output order: the earliest remaining frame of the capture that owns the oldest place.</summary>
    public bool TryTake(out Pinned batch, out int row)
    {
        if (!_arrival.TryDequeue(out long capture))
        {
            batch = null!;
            row = -1;
            return false;
        }
        var queue = _byCapture[capture];
        queue.TryDequeue(out var item, out long frame);
        if (_lastTaken.TryGetValue(capture, out long last) && frame < last) OutOfOrder++;
        else _lastTaken[capture] = frame;
        (batch, row) = item;
        if (--batch.Remaining == 0)
        {
            PinnedBatches--;
            PinnedBytes -= batch.Bytes;
        }
        return true;
    }
}
