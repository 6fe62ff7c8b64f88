using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Pipeline;

/// <summary>Caps and switches of an <see cref="IngestPipeline"/>. Every cap, when hit, shows up as a column or anomaly.</summary>
public sealed record IngestOptions
{
    /// <summary>Out-of-order bytes buffered per TCP connection direction before a hole is given up (anomaly reassembly_cap_hit).</summary>
    public long ReassemblyBufferBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// First bytes of each direction kept while the stream protocols classify a connection. When
    /// reached without a content match the well-known port decides (anomaly classification_cap_hit).
    /// </summary>
    public int ClassificationBytes { get; init; } = 16 * 1024;

    /// <summary>UDP datagrams tried for content classification before the flow is left unparsed.</summary>
    public int ClassificationDatagrams { get; init; } = 4;

    /// <summary>
    /// Close TCP/UDP state idle for this long (capture time). Null (the default, right for files)
    /// keeps every flow until the end, so stream numbering equals tshark's; in live capture a packet
    /// after the timeout starts a new connection.
    /// </summary>
    public TimeSpan? IdleTimeout { get; init; }

    /// <summary>
    /// With <see cref="IdleTimeout"/> set: a connection closed by RST or by FINs in both directions is
    /// ended (parser OnEnd, row emitted) once it has been quiet this long, so late ACKs and
    /// retransmissions still count. Ignored without an idle timeout.
    /// </summary>
    public TimeSpan ClosedLinger { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Options of the packet decoder (fragment reassembly caps, tunnel depth).</summary>
    public DecoderOptions Decoder { get; init; } = DecoderOptions.Default;

    /// <summary>Emit UDP flows to the connections sink as well as TCP connections.</summary>
    public bool EmitUdpFlows { get; init; } = true;

    /// <summary>Sees every frame with the connection it was assigned to (for the raw-frame table).</summary>
    public IFrameObserver? FrameObserver { get; init; }

    /// <summary>Called with the number of frames read, about every 64k frames.</summary>
    public Action<long>? Progress { get; init; }

    public static IngestOptions Default { get; } = new();
}
