using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>
/// The connections table. The first 31 columns are the tshark oracle's tcp section, in its order
/// and with its names (shared/tools/tshark-oracle.sh); TrafficStore's own columns follow.
/// </summary>
public static class ConnectionsTable
{
    public static TableDefinition<ConnectionRecord> Definition { get; } = new("connections", 1, new[]
    {
        Column<ConnectionRecord>.Int64("stream", r => r.Stream, "tcp.stream (TCP) or udp.stream (UDP) index within the capture"),
        Column<ConnectionRecord>.String("client_ip", r => r.ClientIp.ToString(), "client address (see client_rule)"),
        Column<ConnectionRecord>.Int64("client_port", r => r.ClientPort, "client port"),
        Column<ConnectionRecord>.String("server_ip", r => r.ServerIp.ToString(), "server address"),
        Column<ConnectionRecord>.Int64("server_port", r => r.ServerPort, "server port"),
        Column<ConnectionRecord>.String("client_rule", r => ClientRuleName(r.ClientRule), "syn: sender of the first pure SYN; synack: receiver of the first SYN-ACK; first_packet: source of the first packet"),
        Column<ConnectionRecord>.Timestamp("first_ts", r => r.FirstTimestampNs, "time of the first packet"),
        Column<ConnectionRecord>.Timestamp("last_ts", r => r.LastTimestampNs, "time of the last packet"),
        Column<ConnectionRecord>.Int64("pkts_c2s", r => r.PacketsC2S, "packets client to server"),
        Column<ConnectionRecord>.Int64("pkts_s2c", r => r.PacketsS2C, "packets server to client"),
        Column<ConnectionRecord>.Int64("bytes_c2s", r => r.BytesC2S, "sum of frame.len client to server"),
        Column<ConnectionRecord>.Int64("bytes_s2c", r => r.BytesS2C, "sum of frame.len server to client"),
        Column<ConnectionRecord>.Int64("payload_c2s", r => r.PayloadC2S, "sum of tcp.len (UDP: payload length) client to server, retransmissions included"),
        Column<ConnectionRecord>.Int64("payload_s2c", r => r.PayloadS2C, "sum of tcp.len server to client"),
        Column<ConnectionRecord>.Duration("irtt", r => r.InitialRttNs, "tcp.analysis.initial_rtt (SYN -> first ACK), as tshark first prints it; empty when it prints none"),
        Column<ConnectionRecord>.Int64("syn", r => r.Syn, "SYN segments without ACK (retransmissions included)"),
        Column<ConnectionRecord>.Int64("synack", r => r.SynAck, "SYN+ACK segments"),
        Column<ConnectionRecord>.Int64("fin_c2s", r => r.FinC2S, "FIN segments client to server"),
        Column<ConnectionRecord>.Int64("fin_s2c", r => r.FinS2C, "FIN segments server to client"),
        Column<ConnectionRecord>.Int64("rst_c2s", r => r.RstC2S, "RST segments client to server"),
        Column<ConnectionRecord>.Int64("rst_s2c", r => r.RstS2C, "RST segments server to client"),
        Column<ConnectionRecord>.Int64("retransmission", r => r.Retransmission, "packets flagged tcp.analysis.retransmission (fast and spurious included)"),
        Column<ConnectionRecord>.Int64("fast_retransmission", r => r.FastRetransmission, "packets flagged tcp.analysis.fast_retransmission"),
        Column<ConnectionRecord>.Int64("spurious_retransmission", r => r.SpuriousRetransmission, "packets flagged tcp.analysis.spurious_retransmission"),
        Column<ConnectionRecord>.Int64("duplicate_ack", r => r.DuplicateAck, "packets flagged tcp.analysis.duplicate_ack"),
        Column<ConnectionRecord>.Int64("out_of_order", r => r.OutOfOrder, "packets flagged tcp.analysis.out_of_order"),
        Column<ConnectionRecord>.Int64("zero_window", r => r.ZeroWindow, "packets flagged tcp.analysis.zero_window"),
        Column<ConnectionRecord>.Int64("zero_window_probe", r => r.ZeroWindowProbe, "packets flagged tcp.analysis.zero_window_probe"),
        Column<ConnectionRecord>.Int64("window_full", r => r.WindowFull, "packets flagged tcp.analysis.window_full"),
        Column<ConnectionRecord>.Int64("lost_segment", r => r.LostSegment, "packets flagged tcp.analysis.lost_segment (previous segment not captured)"),
        Column<ConnectionRecord>.Int64("keep_alive", r => r.KeepAlive, "packets flagged tcp.analysis.keep_alive"),

        Column<ConnectionRecord>.String("transport", r => r.Transport == Transport.Tcp ? "tcp" : "udp", "tcp or udp"),
        Column<ConnectionRecord>.Int64("connection_id", r => r.ConnectionId, "id that L7 tables link to (TCP: the stream; UDP: 2^32 + udp.stream)"),
        Column<ConnectionRecord>.String("protocol", r => r.Protocol, "L7 protocol the byte stream was dispatched to (empty when none)"),
        Column<ConnectionRecord>.Duration("syn_synack_time", r => r.SynToSynAckNs, "first SYN -> first SYN-ACK"),
        Column<ConnectionRecord>.Int64("client_mss", r => r.ClientOptions.Mss, "MSS option of the client's SYN"),
        Column<ConnectionRecord>.Int64("server_mss", r => r.ServerOptions.Mss, "MSS option of the server's SYN-ACK"),
        Column<ConnectionRecord>.Int64("client_wscale", r => r.ClientOptions.WindowScale, "window-scale shift of the client's SYN"),
        Column<ConnectionRecord>.Int64("server_wscale", r => r.ServerOptions.WindowScale, "window-scale shift of the server's SYN-ACK"),
        Column<ConnectionRecord>.Boolean("client_sack_permitted", r => r.ClientOptions.SackPermitted, "SACK-permitted option in the client's SYN"),
        Column<ConnectionRecord>.Boolean("server_sack_permitted", r => r.ServerOptions.SackPermitted, "SACK-permitted option in the server's SYN-ACK"),
        Column<ConnectionRecord>.Int64("lifecycle", r => (long)r.Lifecycle, "bitmask: SYN=1, SYN-ACK=2, ACK=4, DATA=8, FIN=16, RST=32"),
        Column<ConnectionRecord>.String("lifecycle_text", r => ConnectionRecord.LifecycleText(r.Lifecycle), "lifecycle as text, e.g. SYN|SYN-ACK|ACK|DATA|FIN"),
        Column<ConnectionRecord>.String("history", r => r.History, "Zeek-style history (client upper case, server lower case): S syn, H syn-ack, A ack, D data, F fin, R rst, T retransmission, G lost segment, W zero window"),
        Column<ConnectionRecord>.String("close_reason", r => CloseReasonName(r.CloseReason), "fin | rst | idle_timeout | open_at_end"),
        Column<ConnectionRecord>.Int64("ack_lost_segment", r => r.AckLostSegment, "packets flagged tcp.analysis.ack_lost_segment (ACKed unseen segment)"),
        Column<ConnectionRecord>.Int64("window_update", r => r.WindowUpdate, "packets flagged tcp.analysis.window_update"),
        Column<ConnectionRecord>.Int64("keep_alive_ack", r => r.KeepAliveAck, "packets flagged tcp.analysis.keep_alive_ack"),
        Column<ConnectionRecord>.Int64("zero_window_probe_ack", r => r.ZeroWindowProbeAck, "packets flagged tcp.analysis.zero_window_probe_ack"),
        Column<ConnectionRecord>.Int64("reused_ports", r => r.ReusedPorts, "packets flagged tcp.analysis.reused_ports"),
        Column<ConnectionRecord>.Duration("rtt_min", r => r.RttMinNs, "smallest tcp.analysis.ack_rtt"),
        Column<ConnectionRecord>.Duration("rtt_max", r => r.RttMaxNs, "largest tcp.analysis.ack_rtt"),
        Column<ConnectionRecord>.Duration("rtt_mean", r => r.RttMeanNs, "mean tcp.analysis.ack_rtt"),
        Column<ConnectionRecord>.Duration("rtt_stddev", r => r.RttStdDevNs, "population standard deviation of tcp.analysis.ack_rtt"),
        Column<ConnectionRecord>.Int64("rtt_samples", r => r.RttSamples, "number of tcp.analysis.ack_rtt samples"),
        Column<ConnectionRecord>.Duration("ttfb", r => r.TimeToFirstByteNs, "client's first payload byte -> server's first payload byte"),
        Column<ConnectionRecord>.Int64("unique_payload_c2s", r => r.UniquePayloadC2S, "payload bytes counted once (goodput) client to server"),
        Column<ConnectionRecord>.Int64("unique_payload_s2c", r => r.UniquePayloadS2C, "payload bytes counted once (goodput) server to client"),
        Column<ConnectionRecord>.Int64("data_packets", r => r.DataPackets, "packets with tcp.len > 0"),
        Column<ConnectionRecord>.Int64("retransmitted_data_packets", r => r.RetransmittedDataPackets, "data packets flagged retransmission (fast/spurious included)"),
        Column<ConnectionRecord>.Double("retransmission_rate", r => r.RetransmissionRate, "retransmitted_data_packets / data_packets (0 without data)"),
        Column<ConnectionRecord>.String("health", r => HealthName(r.Health), "healthy (< 1 %), degraded (1-5 %), severe (>= 5 %) by retransmission_rate"),
        Column<ConnectionRecord>.Double("client_rwnd_mean", r => r.ReceiveWindowMeanClient, "mean receive window advertised by the client (scaled where the scale is known)"),
        Column<ConnectionRecord>.Double("server_rwnd_mean", r => r.ReceiveWindowMeanServer, "mean receive window advertised by the server"),
        Column<ConnectionRecord>.Int64("reassembly_gaps", r => r.ReassemblyGaps, "gaps (bytes never captured) in the reassembled streams"),
        Column<ConnectionRecord>.Int64("reassembly_gap_bytes", r => r.ReassemblyGapBytes, "bytes missing from the reassembled streams"),
        Column<ConnectionRecord>.String("anomalies", r => r.Anomalies, "anomaly:count pairs joined with |"),
        Column<ConnectionRecord>.String("client_pod", r => r.Client.Pod, "Kubernetes pod of the client"),
        Column<ConnectionRecord>.String("client_namespace", r => r.Client.Namespace, "namespace of the client pod"),
        Column<ConnectionRecord>.String("client_workload", r => r.Client.Workload, "workload (deployment, statefulset ...) of the client pod"),
        Column<ConnectionRecord>.String("client_node", r => r.Client.Node, "node of the client pod"),
        Column<ConnectionRecord>.String("client_zone", r => r.Client.Zone, "zone (topology.kubernetes.io/zone) of the client's node"),
        Column<ConnectionRecord>.String("client_service", r => r.Client.Service, "service of the client"),
        Column<ConnectionRecord>.String("client_labels", r => r.Client.Labels, "labels of the client pod, k=v,k=v sorted by key"),
        Column<ConnectionRecord>.String("server_pod", r => r.Server.Pod, "Kubernetes pod of the server"),
        Column<ConnectionRecord>.String("server_namespace", r => r.Server.Namespace, "namespace of the server pod"),
        Column<ConnectionRecord>.String("server_workload", r => r.Server.Workload, "workload of the server pod"),
        Column<ConnectionRecord>.String("server_node", r => r.Server.Node, "node of the server pod"),
        Column<ConnectionRecord>.String("server_zone", r => r.Server.Zone, "zone (topology.kubernetes.io/zone) of the server's node"),
        Column<ConnectionRecord>.String("server_service", r => r.Server.Service, "service of the server"),
        Column<ConnectionRecord>.String("server_labels", r => r.Server.Labels, "labels of the server pod, k=v,k=v sorted by key"),
        Column<ConnectionRecord>.String("locality", r => r.Locality, "same_node, cross_node or cross_zone; empty when either end's node is unknown"),
        Column<ConnectionRecord>.String("node", r => r.Node, "capturing node (empty for files)"),
        Column<ConnectionRecord>.Int64("client_pid", r => r.ClientProcess?.Pid, "live capture: PID owning the client's socket on the capturing node; empty when not local or not found"),
        Column<ConnectionRecord>.String("client_command", r => r.ClientProcess?.Command, "live capture: that process's command (/proc/PID/comm)"),
        Column<ConnectionRecord>.String("client_container_id", r => r.ClientProcess?.ContainerId, "live capture: that process's container id (from its cgroup); empty outside containers"),
        Column<ConnectionRecord>.Int64("server_pid", r => r.ServerProcess?.Pid, "live capture: PID owning the server's socket on the capturing node"),
        Column<ConnectionRecord>.String("server_command", r => r.ServerProcess?.Command, "live capture: that process's command"),
        Column<ConnectionRecord>.String("server_container_id", r => r.ServerProcess?.ContainerId, "live capture: that process's container id"),
    });

    /// <summary>The oracle's tcp section header, i.e. the first columns of <see cref="Definition"/>.</summary>
    public const int OracleColumnCount = 31;

    public static string ClientRuleName(ClientRule r) => r switch
    {
        ClientRule.Syn => "syn",
        ClientRule.SynAck => "synack",
        _ => "first_packet",
    };

    public static string CloseReasonName(CloseReason r) => r switch
    {
        CloseReason.Fin => "fin",
        CloseReason.Rst => "rst",
        CloseReason.IdleTimeout => "idle_timeout",
        _ => "open_at_end",
    };

    public static string HealthName(HealthClass h) => h switch
    {
        HealthClass.Healthy => "healthy",
        HealthClass.Degraded => "degraded",
        _ => "severe",
    };
}
