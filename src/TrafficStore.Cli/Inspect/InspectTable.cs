using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Cli.Inspect;

public enum OutputFormat
{
    Table,
    Csv,
    Json,
}

/// <summary>Switches of `inspect` that only some tables use.</summary>
public sealed record InspectExtras
{
    /// <summary>http: print headers and bodies of every exchange.</summary>
    public bool ShowPayloads { get; init; }

    /// <summary>dns: include mDNS and LLMNR rows (the oracle's dns section holds only plain DNS).</summary>
    public bool IncludeMdns { get; init; }
}

public enum TransportFilter
{
    Tcp,
    Udp,
    All,
}

/// <summary>
/// One table `trafficstore inspect --table NAME` can print: which protocols the pipeline needs for
/// it, and how its rows are written. Register new tables (dns, tls, http) in <see cref="InspectTables"/>.
/// </summary>
public abstract class InspectTable
{
    public abstract string Name { get; }

    /// <summary>Table-specific switches of the inspect command.</summary>
    public InspectExtras Extras { get; set; } = new();

    /// <summary>Stream protocols the pipeline must run for this table.</summary>
    public virtual IEnumerable<IStreamProtocol> StreamProtocols => Array.Empty<IStreamProtocol>();

    /// <summary>Datagram protocols the pipeline must run for this table.</summary>
    public virtual IEnumerable<IDatagramProtocol> DatagramProtocols => Array.Empty<IDatagramProtocol>();

    /// <summary>Writes the rows collected during the run; <paramref name="connections"/> holds every connection row.</summary>
    public abstract void Write(TextWriter output, OutputFormat format, TransportFilter transport, IReadOnlyList<ConnectionRecord> connections);

    /// <summary>CSV, JSON lines, or an aligned text table of <paramref name="textColumns"/> (all when null).</summary>
    protected static void WriteRows<T>(TextWriter output, OutputFormat format, TableDefinition<T> table, IEnumerable<T> rows, IReadOnlyList<string>? textColumns)
    {
        switch (format)
        {
            case OutputFormat.Csv: TableWriters.WriteCsv(output, table, rows); break;
            case OutputFormat.Json: TableWriters.WriteJsonLines(output, table, rows); break;
            default: TableWriters.WriteText(output, table, rows, textColumns); break;
        }
    }
}

/// <summary>The connections table: one row per TCP connection and/or UDP flow.</summary>
public sealed class ConnectionsInspectTable : InspectTable
{
    private static readonly string[] TextColumns =
    {
        "stream", "transport", "client_ip", "client_port", "server_ip", "server_port", "first_ts",
        "pkts_c2s", "pkts_s2c", "bytes_c2s", "bytes_s2c", "irtt", "retransmission", "duplicate_ack",
        "lost_segment", "health", "close_reason", "history",
    };

    public override string Name => "connections";

    public override void Write(TextWriter output, OutputFormat format, TransportFilter transport, IReadOnlyList<ConnectionRecord> connections)
    {
        var rows = connections.Where(r => transport switch
        {
            TransportFilter.Tcp => r.Transport == Transport.Tcp,
            TransportFilter.Udp => r.Transport == Transport.Udp,
            _ => true,
        });
        WriteRows(output, format, TrafficStore.Ingest.TcpAnalysis.ConnectionsTable.Definition, rows, TextColumns);
    }
}

/// <summary>Name → table registry of the inspect command.</summary>
public static class InspectTables
{
    private static readonly Dictionary<string, Func<InspectTable>> Registry = new(StringComparer.Ordinal)
    {
        ["connections"] = () => new ConnectionsInspectTable(),
        ["dns"] = () => new DnsInspectTable(),
        ["tls"] = () => new TlsInspectTable(),
        ["http"] = () => new HttpInspectTable(),
    };

    public static IEnumerable<string> Names => Registry.Keys.Order(StringComparer.Ordinal);

    public static bool TryCreate(string name, out InspectTable table)
    {
        if (Registry.TryGetValue(name, out var factory))
        {
            table = factory();
            return true;
        }
        table = null!;
        return false;
    }
}
