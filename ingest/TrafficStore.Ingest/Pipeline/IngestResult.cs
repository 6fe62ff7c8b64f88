using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>What one <see cref="IngestPipeline.Run"/> did.</summary>
/// <param name="Frames">Frames read from the source.</param>
/// <param name="Packets">TCP and UDP packets decoded and tracked (a fragmented datagram counts once).</param>
/// <param name="TcpConnections">TCP connections (tcp.stream values) seen.</param>
/// <param name="UdpFlows">UDP flows (udp.stream values) seen.</param>
/// <param name="Decoder">The decoder's counters and anomalies.</param>
/// <param name="Error">Why the capture could not be read to its end (null when it was); everything before it was processed.</param>
/// <param name="Cancelled">True when the token stopped the run early.</param>
public sealed record IngestResult(long Frames, long Packets, long TcpConnections, long UdpFlows,
    DecoderStatistics Decoder, CaptureError? Error, bool Cancelled = false);
