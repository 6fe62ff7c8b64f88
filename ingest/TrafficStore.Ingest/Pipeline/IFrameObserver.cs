using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>
/// Per-frame hook of <see cref="IngestPipeline.Run"/>: what store ingest and the live agent add to
/// the pipeline (raw frames, the per-second timeline) without a read loop of their own.
/// </summary>
public interface IFrameObserver
{
    /// <summary>
    /// Called once per frame after the pipeline processed it. <paramref name="connectionId"/> is the
    /// connection it belongs to (TCP stream, or UDP connection id), or -1 (not TCP/UDP, fragment held,
    /// undecodable). When <paramref name="decoded"/> is true, <paramref name="packet"/> and
    /// <paramref name="payload"/> are the decoder's output (default otherwise). The frame's data, the
    /// packet and the payload are valid only during the call.
    /// </summary>
    void OnFrame(in CaptureFrame frame, long connectionId, bool decoded, in DecodedPacket packet, ReadOnlySpan<byte> payload);
}
