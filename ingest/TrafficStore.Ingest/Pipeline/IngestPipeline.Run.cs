using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Pipeline;

public sealed partial class IngestPipeline
{
    private const int ProgressInterval = 1 << 16;

    /// <summary>
    /// Reads <paramref name="source"/> to its end (or first error), processes every frame and
    /// completes: every connection row has been emitted when this returns. Never throws on bad input.
    /// </summary>
    public IngestResult Run(ICaptureSource source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var decoder = new PacketDecoder(_options.Decoder);
        var frame = new CaptureFrame();
        long frames = 0, packets = 0;
        CaptureError? error = null;
        bool cancelled = false;
        var observer = _options.FrameObserver;
        var progress = _options.Progress;
        while (true)
        {
            var status = source.TryReadNext(ref frame);
            if (status == CaptureReadStatus.EndOfCapture) break;
            if (status == CaptureReadStatus.Error)
            {
                error = source.Error;
                break;
            }
            frames++;
            long connectionId = -1;
            bool decoded = decoder.Decode(frame, out var packet, out var payload) == DecodeStatus.Decoded;
            if (decoded)
            {
                connectionId = ProcessPacket(packet, payload);
                packets++;
            }
            observer?.OnFrame(frame, connectionId, decoded, packet, payload);
            if ((frames & (ProgressInterval - 1)) == 0)
            {
                progress?.Invoke(frames);
                if (cancellationToken.IsCancellationRequested) { cancelled = true; break; }
            }
        }
        decoder.FinishCapture();
        Complete();
        progress?.Invoke(frames);
        return new IngestResult(frames, packets, TcpConnections, UdpFlows, decoder.Statistics, error, cancelled);
    }
}
