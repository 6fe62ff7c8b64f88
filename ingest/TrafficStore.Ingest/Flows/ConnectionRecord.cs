using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Flows;

/// <summary>How the client end of a connection was decided.</summary>
public enum ClientRule : byte
{
    /// <summary>Sender of the first SYN without ACK.</summary>
    Syn,
    /// <summary>Receiver of the first SYN-ACK (no pure SYN captured).</summary>
    SynAck,
    /// <summary>Source of the first packet (no SYN or SYN-ACK captured).</summary>
    FirstPacket,
}

/// <summary>Handshake/teardown milestones seen on a TCP connection (column lifecycle).</summary>
[Flags]
public enum Lifecycle
{
    None = 0,
    Syn = 1,
    SynAck = 2,
    Ack = 4,
    Data = 8,
    Fin = 16,
    Rst = 32,
}

/// <summary>Why a connection's row was closed.</summary>
public enum CloseReason : byte
{
    OpenAtEnd,
    Fin,
    Rst,
    IdleTimeout,
}

/// <summary>Retransmission-rate class: healthy &lt; 1 %, degraded 1–5 %, severe ≥ 5 %.</summary>
public enum HealthClass : byte
{
    Healthy,
    Degraded,
    Severe,
}

/// <summary>Per-side TCP handshake options (from that side's SYN or SYN-ACK).</summary>
public struct HandshakeOptions
{
    public int? Mss;
    public int? WindowScale;
    public bool SackPermitted;
}

/// <summary>Kubernetes identity of one end of a connection; empty strings until enrichment fills them.</summary>
public sealed class EndpointIdentity
{
    public string Pod { get; set; } = "";
    public string Namespace { get; set; } = "";
    public string Workload { get; set; } = "";
    public string Node { get; set; } = "";
    /// <summary>The node's zone (topology.kubernetes.io/zone label).</summary>
    public string Zone { get; set; } = "";
    public string Service { get; set; } = "";
    /// <summary>The pod's labels as "k=v,k=v", sorted by key.</summary>
    public string Labels { get; set; } = "";
}

/// <summary>A process on the capturing node that owns one end of a connection (from /proc; live capture only).</summary>
/// <param name="Pid">Process id in the PID namespace of the /proc that was read.</param>
/// <param name="Command">The kernel's task name (/proc/PID/comm).</param>
/// <param name="ContainerId">Container id from /proc/PID/cgroup, or "" outside containers.</param>
public sealed record LocalProcess(int Pid, string Command, string ContainerId);

/// <summary>
/// One row of the connections table: a TCP connection (tshark's tcp.stream) or a UDP flow
/// (udp.stream). The first block of fields matches the tshark oracle's tcp section; the rest are
/// TrafficStore's own health columns. Columns in <see cref="TcpAnalysis.ConnectionsTable"/>.
/// </summary>
public sealed class ConnectionRecord
{
    public Transport Transport { get; set; }
    /// <summary>tcp.stream or udp.stream index within the capture.</summary>
    public long Stream { get; set; }
    /// <summary>Links L7 rows to this row: the TCP stream, or <see cref="UdpConnectionIdBase"/> + the UDP stream.</summary>
    public long ConnectionId { get; set; }
    /// <summary>UDP flows get connection ids from 2^32 up so they never collide with TCP stream ids.</summary>
    public const long UdpConnectionIdBase = 1L << 32;

    public NetAddress ClientIp { get; set; }
    public ushort ClientPort { get; set; }
    public NetAddress ServerIp { get; set; }
    public ushort ServerPort { get; set; }
    public ClientRule ClientRule { get; set; }
    public long FirstTimestampNs { get; set; }
    public long LastTimestampNs { get; set; }
    public long PacketsC2S { get; set; }
    public long PacketsS2C { get; set; }
    public long BytesC2S { get; set; }
    public long BytesS2C { get; set; }
    public long PayloadC2S { get; set; }
    public long PayloadS2C { get; set; }
    /// <summary>tcp.analysis.initial_rtt as tshark first prints it in this stream; null when it prints none.</summary>
    public long? InitialRttNs { get; set; }
    public long Syn { get; set; }
    public long SynAck { get; set; }
    public long FinC2S { get; set; }
    public long FinS2C { get; set; }
    public long RstC2S { get; set; }
    public long RstS2C { get; set; }
    /// <summary>Packets with tcp.analysis.retransmission (fast and spurious ones included, as tshark emits it).</summary>
    public long Retransmission { get; set; }
    public long FastRetransmission { get; set; }
    public long SpuriousRetransmission { get; set; }
    public long DuplicateAck { get; set; }
    public long OutOfOrder { get; set; }
    public long ZeroWindow { get; set; }
    public long ZeroWindowProbe { get; set; }
    public long WindowFull { get; set; }
    public long LostSegment { get; set; }
    public long KeepAlive { get; set; }

    // ---- TrafficStore's own columns
    /// <summary>First SYN → first SYN-ACK.</summary>
    public long? SynToSynAckNs { get; set; }
    public HandshakeOptions ClientOptions { get; set; }
    public HandshakeOptions ServerOptions { get; set; }
    public Lifecycle Lifecycle { get; set; }
    /// <summary>Zeek-style history: client letters upper case, server lower case, in order of first occurrence.</summary>
    public string History { get; set; } = "";
    public CloseReason CloseReason { get; set; }
    public long AckLostSegment { get; set; }
    public long WindowUpdate { get; set; }
    public long KeepAliveAck { get; set; }
    public long ZeroWindowProbeAck { get; set; }
    public long ReusedPorts { get; set; }
    public long? RttMinNs { get; set; }
    public long? RttMaxNs { get; set; }
    public long? RttMeanNs { get; set; }
    public long? RttStdDevNs { get; set; }
    public long RttSamples { get; set; }
    /// <summary>Client's first payload byte → server's first payload byte after it.</summary>
    public long? TimeToFirstByteNs { get; set; }
    /// <summary>Payload bytes counted once (retransmitted copies excluded), per direction.</summary>
    public long UniquePayloadC2S { get; set; }
    public long UniquePayloadS2C { get; set; }
    public long DataPackets { get; set; }
    public long RetransmittedDataPackets { get; set; }
    /// <summary>Retransmitted data packets / data packets (0 when there is no data).</summary>
    public double RetransmissionRate { get; set; }
    public HealthClass Health { get; set; }
    /// <summary>Mean advertised receive window of the client / server, scaled where the scale is known.</summary>
    public double? ReceiveWindowMeanClient { get; set; }
    public double? ReceiveWindowMeanServer { get; set; }
    public long ReassemblyGaps { get; set; }
    public long ReassemblyGapBytes { get; set; }
    /// <summary>Anomalies seen on this connection as "name:count" pairs joined with '|'.</summary>
    public string Anomalies { get; set; } = "";
    /// <summary>The L7 protocol dispatched to ("" when none).</summary>
    public string Protocol { get; set; } = "";

    public EndpointIdentity Client { get; } = new();
    public EndpointIdentity Server { get; } = new();
    /// <summary>same_node, cross_node, cross_zone, or "" when either end's node is unknown (set by enrichment).</summary>
    public string Locality { get; set; } = "";
    /// <summary>Capturing node (empty for files).</summary>
    public string Node { get; set; } = "";
    /// <summary>Process owning the client's socket on the capturing node (live capture only; null when not local or not found).</summary>
    public LocalProcess? ClientProcess { get; set; }
    /// <summary>Process owning the server's socket on the capturing node (live capture only).</summary>
    public LocalProcess? ServerProcess { get; set; }

    public static HealthClass Classify(double retransmissionRate) =>
        retransmissionRate < 0.01 ? HealthClass.Healthy : retransmissionRate < 0.05 ? HealthClass.Degraded : HealthClass.Severe;

    public static string LifecycleText(Lifecycle l)
    {
        if (l == Lifecycle.None) return "";
        var parts = new List<string>(6);
        if ((l & Lifecycle.Syn) != 0) parts.Add("SYN");
        if ((l & Lifecycle.SynAck) != 0) parts.Add("SYN-ACK");
        if ((l & Lifecycle.Ack) != 0) parts.Add("ACK");
        if ((l & Lifecycle.Data) != 0) parts.Add("DATA");
        if ((l & Lifecycle.Fin) != 0) parts.Add("FIN");
        if ((l & Lifecycle.Rst) != 0) parts.Add("RST");
        return string.Join('|', parts);
    }
}
