using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Synthetic;

/// <summary>
/// The generator as an <see cref="ICaptureSource"/>, so the ingest pipeline can consume synthetic
/// traffic without a file in between (e.g. <c>trafficstore serve --demo</c>).
/// </summary>
public sealed class SyntheticCaptureSource : ICaptureSource
{
    private readonly TrafficGenerator _generator;
    private long _number;

    public SyntheticCaptureSource(TrafficGenerator generator, string name = "synthetic")
    {
        _generator = generator ?? throw new ArgumentNullException(nameof(generator));
        Name = name;
    }

    public SyntheticCaptureSource(TrafficGeneratorOptions options) : this(new TrafficGenerator(options)) { }

    public string Name { get; }
    public CaptureError? Error => null;
    public TrafficGenerator Generator => _generator;

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        if (!_generator.TryReadNext(out long ts, out ReadOnlySpan<byte> data)) return CaptureReadStatus.EndOfCapture;
        frame.Number = ++_number;
        frame.TimestampNs = ts;
        frame.OriginalLength = data.Length;
        frame.LinkType = LinkType.Ethernet;
        frame.InterfaceId = 0;
        frame.FileOffset = -1;
        frame.Data = data;
        return CaptureReadStatus.Frame;
    }

    public void Dispose() { }
}
