using Apache.Arrow;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Capture;

/// <summary>
/// The payloads rows made since the last group cut and the packets batches of the frames captured
/// meanwhile, whose bytes may refer to those rows: one unit the agent spools atomically (payloads first).
/// </summary>
internal sealed record FrameGroup(List<Stored<PayloadRow>> Payloads, List<RecordBatch> Packets, bool References);

/// <summary>
/// Captured frames and HTTP bodies waiting to be shipped, bodies stored once (docs/agent.md "Frames and
/// bodies stored once"). The capture thread adds frames (into the store's <see cref="FrameBodyGroup"/>:
/// growing buffers, cut into batches of at most <c>maxBatchBytes</c>) and payloads rows; a frame whose
/// TCP payload equals bytes of a body completed while it was held is shipped without them and refers to
/// that payloads row. The hold ends — the group is cut — at every drain (the agent's flush interval)
/// or once <c>holdBytes</c> of frames are held, whichever comes first; frames whose body had not
/// completed by then ship whole. A group's frames refer only to payloads rows of the same group, so a
/// group spooled as one unit never names a row that is not stored. Thread-safe.
/// <para>
/// Cutting a group only swaps it for an empty one (under the lock the capture thread takes per frame); the
/// elision itself — matching every held frame against the group's bodies and building the packets batches —
/// runs in <see cref="Drain"/> on the caller's (flush) thread, outside the lock, so the capture thread is
/// never blocked for it (it used to run under the lock, on the flush thread or, for a group cut at the hold
/// bound, on the capture thread itself).
/// </para>
/// </summary>
internal sealed class FrameBuffer
{
    private const int SpareGroups = 2;

    private readonly Lock _gate = new();
    private readonly long _holdBytes;
    private readonly long _maxBatchBytes;
    // Released groups, kept for reuse: their builders' buffers have grown already.
    private readonly Stack<FrameBodyGroup> _spare = new();
    private FrameBodyGroup _group;
    private List<Stored<PayloadRow>> _payloads = new();
    private List<(FrameBodyGroup Group, List<Stored<PayloadRow>> Payloads)> _cut = new();
    private long _elidedFrames, _elidedBytes;

    /// <param name="maxBatchBytes">A packets batch is cut once it holds this many bytes.</param>
    /// <param name="holdBytes">Most frame bytes held waiting for bodies before the group is cut early.</param>
    public FrameBuffer(long maxBatchBytes, long holdBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(holdBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchBytes, 1);
        _maxBatchBytes = maxBatchBytes;
        _group = new FrameBodyGroup(maxBatchBytes);
        _holdBytes = holdBytes;
    }

    /// <summary>Frames elided so far and body bytes they did not carry (groups drained so far).</summary>
    public (long Frames, long Bytes) Elided
    {
        get { lock (_gate) return (_elidedFrames, _elidedBytes); }
    }

    /// <summary>Test hook: runs on the draining thread, outside the lock, before a cut group's elision.</summary>
    internal Action? Releasing { get; set; }

    /// <param name="connectionId">The store-wide connection id, or null when the frame belongs to none.</param>
    public void Add(in CaptureFrame frame, long captureId, long? connectionId, string ownerNamespace, bool decoded, in DecodedPacket packet, ReadOnlySpan<byte> payload)
    {
        lock (_gate)
        {
            _group.AddFrame(frame, captureId, connectionId, ownerNamespace, decoded, packet, payload);
            // RawBytes counts the frame bytes plus the fixed-width columns: tiny frames are bounded too.
            if (_group.HeldBytes >= _holdBytes) CutGroup();
        }
    }

    /// <summary>A frame kept whole (no decoded packet), e.g. from a test.</summary>
    public void Add(in CaptureFrame frame, long captureId, long? connectionId, string ownerNamespace) =>
        Add(frame, captureId, connectionId, ownerNamespace, decoded: false, default, default);

    /// <summary>A payloads row and, when it has a body, that body for frames to refer to (ids as the row stores them: store-wide).</summary>
    public void AddPayload(Stored<PayloadRow> row, long? firstByteNs, long? lastByteNs)
    {
        lock (_gate)
        {
            _payloads.Add(row);
            var r = row.Row;
            _group.AddBody(row.Global(r.ConnectionId), row.Global(r.ExchangeId), r.Direction, r.Body, firstByteNs, lastByteNs);
        }
    }

    /// <summary>
    /// The groups cut since the last drain and the one open now, oldest first, their frames elided here (outside
    /// the lock). Drains must not run concurrently with each other (the node agent's flush is serialized).
    /// </summary>
    public List<FrameGroup> Drain()
    {
        List<(FrameBodyGroup Group, List<Stored<PayloadRow>> Payloads)> cut;
        lock (_gate)
        {
            CutGroup();
            cut = _cut;
            _cut = new();
        }
        var groups = new List<FrameGroup>(cut.Count);
        foreach (var (group, payloads) in cut)
        {
            Releasing?.Invoke();
            long frames = group.ElidedFrames, bytes = group.ElidedBytes;
            var packets = group.Release(out bool references);
            groups.Add(new FrameGroup(payloads, packets, references));
            lock (_gate)
            {
                _elidedFrames += group.ElidedFrames - frames;
                _elidedBytes += group.ElidedBytes - bytes;
                if (_spare.Count < SpareGroups) _spare.Push(group);
            }
        }
        return groups;
    }

    /// <summary>Under the lock: the open group joins the cut ones, unreleased, and an empty one takes its place.</summary>
    private void CutGroup()
    {
        if (_group.HeldFrames == 0 && _payloads.Count == 0) return;
        _cut.Add((_group, _payloads));
        _group = _spare.Count > 0 ? _spare.Pop() : new FrameBodyGroup(_maxBatchBytes);
        _payloads = new List<Stored<PayloadRow>>();
    }
}
