using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;

namespace TrafficStore.Benchmarks.Ingest;

/// <summary>A row sink that only counts, so the benchmark measures parsing, not storage.</summary>
internal sealed class CountingSink<T> : IRowSink<T>
{
    public long Count { get; private set; }
    public void Add(T row) => Count++;
}

/// <summary>
/// The production protocol set (HTTP/1 with h2c hand-over, HTTP/2 + gRPC, TLS, DNS) with sinks
/// that only count rows.
/// </summary>
internal sealed class L7Protocols
{
    private readonly CountingSink<HttpExchange> _http = new();
    private readonly CountingSink<DnsTransaction> _dns = new();
    private readonly CountingSink<TlsHandshake> _tls = new();

    private L7Protocols()
    {
        var set = new ProtocolSet(_http, _dns, _tls);
        Stream = set.StreamProtocols.ToList();
        Datagram = set.DatagramProtocols.ToList();
        Names = Stream.Select(p => p.Name).Concat(Datagram.Select(p => p.Name + "/udp")).ToList();
    }

    public List<IStreamProtocol> Stream { get; }
    public List<IDatagramProtocol> Datagram { get; }
    public List<string> Names { get; }

    /// <summary>Rows (exchanges, transactions, handshakes) emitted so far by all protocols.</summary>
    public long RowCount => _http.Count + _dns.Count + _tls.Count;

    public static L7Protocols Discover() => new();
}
