using Apache.Arrow;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Agent.Capture;

/// <summary>
/// Captured frames waiting to become packets-table batches. The capture thread appends each frame's
/// bytes into the store's <see cref="PacketBatchBuilder"/> (growing buffers, nothing allocated per
/// frame); once a batch reaches <c>maxBatchBytes</c> it is cut there, so a burst between two flushes
/// becomes several bounded batches instead of one that grows without limit. The agent's flush loop
/// drains the cut batches and the partial one (thread-safe).
/// </summary>
internal sealed class FrameBuffer
{
    private readonly PacketBatchBuilder _builder = new();
    private readonly Lock _gate = new();
    private readonly long _maxBatchBytes;
    private List<RecordBatch> _cut = new();

    public FrameBuffer(long maxBatchBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchBytes, 1);
        _maxBatchBytes = maxBatchBytes;
    }

    /// <param name="connectionId">The store-wide connection id, or null when the frame belongs to none.</param>
    public void Add(in CaptureFrame frame, long captureId, long? connectionId, string ownerNamespace)
    {
        lock (_gate)
        {
            _builder.Add(frame, captureId, connectionId, ownerNamespace);
            // RawBytes counts the frame bytes plus the fixed-width columns: tiny frames are bounded too.
            if (_builder.RawBytes >= _maxBatchBytes) _cut.Add(_builder.BuildPackets());
        }
    }

    /// <summary>The batches cut since the last drain and the frames added after them, oldest first.</summary>
    public List<RecordBatch> Drain()
    {
        lock (_gate)
        {
            var batches = _cut;
            _cut = new List<RecordBatch>();
            if (_builder.Count > 0) batches.Add(_builder.BuildPackets());
            return batches;
        }
    }
}
