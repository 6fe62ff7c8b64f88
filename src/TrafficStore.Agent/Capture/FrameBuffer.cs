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
/// </summary>
internal sealed class FrameBuffer
{
    private readonly FrameBodyGroup _group;
    private readonly Lock _gate = new();
    private readonly long _holdBytes;
    private List<Stored<PayloadRow>> _payloads = new();
    private List<FrameGroup> _cut = new();

    /// <param name="maxBatchBytes">A packets batch is cut once it holds this many bytes.</param>
    /// <param name="holdBytes">Most frame bytes held waiting for bodies before the group is cut early.</param>
    public FrameBuffer(long maxBatchBytes, long holdBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(holdBytes, 1);
        _group = new FrameBodyGroup(maxBatchBytes);
        _holdBytes = holdBytes;
    }

    /// <summary>Frames elided so far and body bytes they did not carry.</summary>
    public (long Frames, long Bytes) Elided
    {
        get { lock (_gate) return (_group.ElidedFrames, _group.ElidedBytes); }
    }

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

    /// <summary>The groups cut since the last drain and the one open now, oldest first (thread-safe).</summary>
    public List<FrameGroup> Drain()
    {
        lock (_gate)
        {
            CutGroup();
            var groups = _cut;
            _cut = new List<FrameGroup>();
            return groups;
        }
    }

    private void CutGroup()
    {
        if (_group.HeldFrames == 0 && _payloads.Count == 0) return;
        var packets = _group.Release(out bool references);
        _cut.Add(new FrameGroup(_payloads, packets, references));
        _payloads = new List<Stored<PayloadRow>>();
    }
}
