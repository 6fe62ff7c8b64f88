using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Kubernetes.Identity;

namespace TrafficStore.Agent;

/// <summary>Settings of a <see cref="NodeAgent"/> (the <c>trafficstore agent</c> options, docs/agent.md).</summary>
public sealed record AgentOptions
{
    /// <summary>Flight server, e.g. http://trafficstore:8815 (h2c) or https://... .</summary>
    public required Uri Server { get; init; }
    /// <summary>Bearer token with the <c>write</c> scope; null sends none.</summary>
    public string? Token { get; init; }
    /// <summary>Interfaces to capture ("any" for all on Linux). Each gets its own pipeline and capture id.</summary>
    public IReadOnlyList<string> Interfaces { get; init; } = ["any"];
    /// <summary>libpcap settings shared by every interface: BPF filter, snaplen, promiscuous mode, kernel buffer.</summary>
    public LiveCaptureOptions Capture { get; init; } = new();
    /// <summary>Spool directory; batches wait here (fsync'd) until the server acknowledged them.</summary>
    public required string SpoolDirectory { get; init; }
    /// <summary>Size limit of the spool; past it the oldest batches are dropped and counted.</summary>
    public long SpoolMaxBytes { get; init; } = 1L << 30;
    /// <summary>Node name for the <c>node</c> column and capture_stats (default: the host name).</summary>
    public string NodeName { get; init; } = Environment.MachineName;
    /// <summary>Address:port of the /metrics and /healthz endpoint (e.g. 127.0.0.1:9102); null for none.</summary>
    public string? MetricsListen { get; init; }
    /// <summary>
    /// Flows idle this long (capture time) are closed and their rows shipped while the capture runs;
    /// a closed (FIN/RST) connection is shipped after <see cref="ClosedLinger"/>.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ClosedLinger { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Rows are cut into batches and spooled at least this often.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>A capture_stats row per interface is spooled this often (and at the end).</summary>
    public TimeSpan StatsInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>At shutdown, how long the agent keeps trying to ship the spool before leaving the rest on disk.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Most batches sent in one DoPut stream.</summary>
    public int BatchesPerPut { get; init; } = 64;
    /// <summary>
    /// Largest DoPut message (one Arrow IPC batch) the shipper sends; a larger spooled batch goes as row slices.
    /// Keep it at or below the server's gRPC receive limit (<c>TrafficServerOptions.MaxReceiveMessageBytes</c>, 64 MiB);
    /// a server that refuses a message as too large makes the shipper lower it (docs/agent.md "Message size").
    /// </summary>
    public long MaxPutMessageBytes { get; init; } = Shipping.FlightShipper.DefaultMaxMessageBytes;
    /// <summary>The /proc to read socket owners from (the host's /proc mounted in the DaemonSet); null disables process identity.</summary>
    public string? ProcRoot { get; init; } = "/proc";
    /// <summary>Kubernetes identities for both ends of every row (a watched or snapshot map); null leaves them empty.</summary>
    public IdentityMap? Identities { get; init; }
    public ProtocolSetOptions? Protocols { get; init; }
    /// <summary>
    /// Ship every captured frame to the packets table (for <c>export pcap</c>). Frames are about the
    /// captured volume itself; off, the agent ships only the derived tables (docs/agent.md).
    /// </summary>
    public bool ShipFrames { get; init; } = true;
    /// <summary>A packets batch is cut once it holds this many bytes (frame bytes plus fixed-width columns), between flushes too.</summary>
    public long FrameBatchBytes { get; init; } = 4L << 20;
    /// <summary>
    /// Frames are held at most this many bytes (and at most one <see cref="FlushInterval"/>) waiting for the HTTP body
    /// they carry to complete: frames whose body completed meanwhile ship without those bytes (stored once, in
    /// payloads); the others ship whole (docs/agent.md "Frames and bodies stored once").
    /// </summary>
    public long FrameHoldBytes { get; init; } = 16L << 20;
    /// <summary>Opens an interface's capture instead of libpcap (tests replay a capture file through the agent's path).</summary>
    internal Func<string, ICaptureSource>? OpenCapture { get; init; }
}
