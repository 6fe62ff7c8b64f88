using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>Per-frame hook of the pipeline, e.g. for the storage engine's raw-frame table.</summary>
public interface IFrameObserver
{
    /// <summary>
    /// Called once per frame after it was processed. <paramref name="connectionId"/> is the
    /// connection it belongs to (TCP stream, or UDP connection id), or -1 (not TCP/UDP, fragment held, undecodable).
    /// The frame's data is valid only during the call.
    /// </summary>
    void OnFrame(in CaptureFrame frame, long connectionId);
}
