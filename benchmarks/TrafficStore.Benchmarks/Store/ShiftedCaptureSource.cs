using TrafficStore.Ingest.Capture;

namespace TrafficStore.Benchmarks.Store;

/// <summary>
/// A capture source that moves every frame's timestamp by a fixed offset, so one capture file
/// ingested round after round fills later and later time partitions (a store of many GB of
/// history from one ~350 MB input, as if the same traffic had been recorded again each round).
/// </summary>
internal sealed class ShiftedCaptureSource : ICaptureSource
{
    private readonly ICaptureSource _inner;
    private readonly long _shiftNs;

    public ShiftedCaptureSource(ICaptureSource inner, long shiftNs)
    {
        _inner = inner;
        _shiftNs = shiftNs;
    }

    public string Name => _inner.Name;
    public CaptureError? Error => _inner.Error;

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        var status = _inner.TryReadNext(ref frame);
        if (status == CaptureReadStatus.Frame) frame.TimestampNs += _shiftNs;
        return status;
    }

    public void Dispose() => _inner.Dispose();
}
