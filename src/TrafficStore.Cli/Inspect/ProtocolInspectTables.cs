using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;

namespace TrafficStore.Cli.Inspect;

/// <summary>
/// Base of the L7 tables: every protocol runs (as in the store), so protocol detection makes the
/// same choices whichever table is printed; each table prints its own rows.
/// </summary>
public abstract class ProtocolInspectTable : InspectTable
{
    protected ProtocolInspectTable()
    {
        Protocols = new ProtocolSet(Http, Dns, Tls);
    }

    protected ListSink<HttpExchange> Http { get; } = new();
    protected ListSink<DnsTransaction> Dns { get; } = new();
    protected ListSink<TlsHandshake> Tls { get; } = new();
    protected ProtocolSet Protocols { get; }

    public override IEnumerable<IStreamProtocol> StreamProtocols => Protocols.StreamProtocols;
    public override IEnumerable<IDatagramProtocol> DatagramProtocols => Protocols.DatagramProtocols;
}

/// <summary>DNS transactions in order of query frame (responses without a query at their own frame).</summary>
public sealed class DnsInspectTable : ProtocolInspectTable
{
    private static readonly string[] TextColumns =
    {
        "query_ts", "transport", "client_ip", "server_ip", "id", "qname", "qtype_name", "rcode_name", "answers", "dns_time", "a", "aaaa", "cname",
    };

    public override string Name => "dns";

    public override void Write(TextWriter output, OutputFormat format, TransportFilter transport, IReadOnlyList<ConnectionRecord> connections)
    {
        var rows = DnsTable.InTableOrder(Dns.Rows).Where(r => Extras.IncludeMdns || r.Variant == "dns");
        WriteRows(output, format, DnsTable.Definition, rows, TextColumns);
    }
}

/// <summary>TLS handshakes, one per connection, in connection order.</summary>
public sealed class TlsInspectTable : ProtocolInspectTable
{
    private static readonly string[] TextColumns =
    {
        "stream", "client_ip", "server_ip", "server_port", "sni", "version_name", "cipher_name", "alpn_selected", "alert", "hello_delay",
    };

    public override string Name => "tls";

    public override void Write(TextWriter output, OutputFormat format, TransportFilter transport, IReadOnlyList<ConnectionRecord> connections) =>
        WriteRows(output, format, TlsTable.Definition, TlsTable.InTableOrder(Tls.Rows), TextColumns);
}

/// <summary>HTTP/1.x, HTTP/2 and gRPC exchanges in order of request frame; or, with --show-payloads, their headers and bodies.</summary>
public sealed class HttpInspectTable : ProtocolInspectTable
{
    private static readonly string[] TextColumns =
    {
        "exchange_id", "proto", "stream", "h2_stream", "req_ts", "method", "host", "uri", "status", "content_type", "resp_body", "time", "grpc_status",
    };

    public override string Name => "http";

    public override void Write(TextWriter output, OutputFormat format, TransportFilter transport, IReadOnlyList<ConnectionRecord> connections)
    {
        var rows = HttpTable.InTableOrder(Http.Rows);
        if (Extras.ShowPayloads)
        {
            foreach (var x in rows) HttpPayloadPrinter.Write(output, x);
            return;
        }
        WriteRows(output, format, HttpTable.Definition, rows, TextColumns);
    }
}
