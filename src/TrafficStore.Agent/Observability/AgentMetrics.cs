using System.Globalization;
using System.Net;
using System.Text;

using TrafficStore.Store.Observability;

namespace TrafficStore.Agent.Observability;

/// <summary>
/// The agent's Prometheus text exposition (format 0.0.4) and health, built from the live counters
/// of a <see cref="NodeAgent"/>; served by <see cref="MetricsEndpoint"/>.
/// </summary>
public static class AgentMetrics
{
    public static string Render(NodeAgent agent)
    {
        var text = new PrometheusTextWriter();
        void Metric(string name, string type, string help) => text.Metric(name, type, help);
        void Line(string name, double value, string labels = "") => text.Sample(name, value, labels);
        var captures = agent.Captures.Select(c => (Label: $"interface=\"{Escape(c.Interface)}\"", Counters: c.Counters)).ToList();
        void PerInterface(string name, string type, string help, Func<Capture.LiveCaptureCounters, long?> value)
        {
            Metric(name, type, help);
            foreach (var (label, counters) in captures)
                if (value(counters) is { } v) Line(name, v, label);
        }

        PerInterface("trafficstore_agent_frames_total", "counter", "Frames read from libpcap.", c => c.Frames);
        PerInterface("trafficstore_agent_bytes_total", "counter", "Captured frame bytes read from libpcap.", c => c.Bytes);
        PerInterface("trafficstore_agent_capture_received_total", "counter", "Packets received by the capture filter (pcap_stats ps_recv).", c => c.Pcap?.Received);
        PerInterface("trafficstore_agent_capture_dropped_kernel_total", "counter", "Packets dropped because the kernel capture buffer was full (ps_drop).", c => c.Pcap?.DroppedByKernel);
        PerInterface("trafficstore_agent_capture_dropped_interface_total", "counter", "Packets dropped by the interface or driver (ps_ifdrop).", c => c.Pcap?.DroppedByInterface);
        PerInterface("trafficstore_agent_tcp_connections_total", "counter", "TCP connections seen.", c => c.TcpConnections);
        PerInterface("trafficstore_agent_udp_flows_total", "counter", "UDP flows seen.", c => c.UdpFlows);
        PerInterface("trafficstore_agent_process_lookups_total", "counter", "Socket owner lookups that found a local process.", c => c.ProcessesResolved);
        PerInterface("trafficstore_agent_process_misses_total", "counter", "Socket owner lookups that found no local process.", c => c.ProcessesNotFound);

        // Body elision (docs/agent.md "Frames and bodies stored once"): frames shipped without HTTP body bytes the payloads rows hold.
        Metric("trafficstore_agent_elided_frames_total", "counter", "Frames shipped without the HTTP body bytes they carried (stored once, in payloads).");
        foreach (var c in agent.Captures) Line("trafficstore_agent_elided_frames_total", c.Elided.Frames, $"interface=\"{Escape(c.Interface)}\"");
        Metric("trafficstore_agent_elided_bytes_total", "counter", "HTTP body bytes left out of shipped frames.");
        foreach (var c in agent.Captures) Line("trafficstore_agent_elided_bytes_total", c.Elided.Bytes, $"interface=\"{Escape(c.Interface)}\"");

        Metric("trafficstore_agent_rows_total", "counter", "Rows handed to the spool, per table.");
        foreach (var (table, rows) in agent.RowsSpooled.OrderBy(p => p.Key)) Line("trafficstore_agent_rows_total", rows, $"table=\"{table}\"");

        var spool = agent.Spool;
        text.Gauge("trafficstore_agent_spool_bytes", "Bytes of the disk spool.", spool.Bytes);
        text.Gauge("trafficstore_agent_spool_limit_bytes", "Size limit of the disk spool.", agent.Options.SpoolMaxBytes);
        text.Gauge("trafficstore_agent_spool_pending_batches", "Batches not yet acknowledged by the server.", spool.PendingBatches);
        text.Gauge("trafficstore_agent_spool_pending_rows", "Rows not yet acknowledged by the server.", spool.PendingRows);
        text.Counter("trafficstore_agent_dropped_rows_total", "Rows dropped by the agent: the spool was full and its oldest data went.", spool.DroppedRows);
        text.Counter("trafficstore_agent_dropped_batches_total", "Batches dropped by the agent (spool full).", spool.DroppedBatches);

        var ship = agent.Shipper;
        text.Counter("trafficstore_agent_acked_rows_total", "Rows the server acknowledged as durable.", ship.SentRows);
        text.Counter("trafficstore_agent_acked_batches_total", "Batches the server acknowledged as durable.", ship.SentBatches);
        text.Counter("trafficstore_agent_rejected_rows_total", "Rows skipped: rejected by the server as invalid, or alone larger than a DoPut message.", ship.RejectedRows);
        text.Gauge("trafficstore_agent_put_message_limit_bytes", "Largest DoPut message the shipper sends now (lowered when the server refuses one as too large).", ship.MessageLimit);
        text.Counter("trafficstore_agent_ship_failures_total", "DoPut attempts that failed (server unreachable, slow or refusing).", ship.Failures);
        text.Gauge("trafficstore_agent_server_connected", "1 when the last DoPut succeeded.", ship.Connected ? 1 : 0);
        return text.ToString();
    }

    /// <summary>Health: ok while capturing with no capture error; "degraded" text lines say why not.</summary>
    public static (HttpStatusCode Status, string Body) Health(NodeAgent agent)
    {
        var problems = new List<string>();
        if (!agent.Running) problems.Add("agent not running");
        foreach (var c in agent.Captures)
            if (c.Result?.Error is { } e) problems.Add($"capture {c.Interface} stopped: {e}");
        var ship = agent.Shipper;
        if (!ship.Connected && ship.Failures > 0) problems.Add($"server unreachable ({ship.LastError}); spooling");
        return problems.Count == 0
            ? (HttpStatusCode.OK, "ok\n")
            : (agent.Running ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, "degraded: " + string.Join("; ", problems) + "\n");
    }

    private static string Escape(string s) => PrometheusTextWriter.Escape(s);
}
