using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http1;
using TrafficStore.Ingest.Protocols.Http2;
using TrafficStore.Ingest.Protocols.Tls;

namespace TrafficStore.Ingest.Protocols;

/// <summary>Options of every protocol of a <see cref="ProtocolSet"/>; null members use each protocol's defaults.</summary>
public sealed record ProtocolSetOptions
{
    public Http1Options? Http1 { get; init; }
    public Http2Options? Http2 { get; init; }
    public DnsOptions? Dns { get; init; }
    public TlsOptions? Tls { get; init; }
    /// <summary>Retry flagging; by default a repeat within 1 s on the connection or from the client.</summary>
    public RetryOptions Retry { get; init; } = new() { ConnectionWindow = TimeSpan.FromSeconds(1) };

    public static ProtocolSetOptions Default { get; } = new();
}

/// <summary>
/// Every L7 protocol TrafficStore parses, wired once: HTTP/1 (with <c>Upgrade: h2c</c> handed to
/// HTTP/2), HTTP/2 and gRPC, TLS, and DNS over UDP and TCP. HTTP/1 and HTTP/2 rows share one
/// exchange-id counter, so <see cref="HttpExchange.ExchangeId"/> is unique within the run
/// (1, 2, 3 ... in the order exchanges start or, for HTTP/1, are emitted).
/// <code>
/// var set = new ProtocolSet(httpSink, dnsSink, tlsSink);
/// new IngestPipeline(connections, set.StreamProtocols, set.DatagramProtocols).Run(source);
/// </code>
/// </summary>
public sealed class ProtocolSet
{
    private long _lastExchangeId;

    public ProtocolSet(IRowSink<HttpExchange> http, IRowSink<DnsTransaction> dns, IRowSink<TlsHandshake> tls, ProtocolSetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(dns);
        ArgumentNullException.ThrowIfNull(tls);
        options ??= ProtocolSetOptions.Default;
        var httpRows = new ExchangeIdSink(http, NextExchangeId, new RetryDetector(options.Retry));
        Http2 = new Http2Protocol(httpRows, options.Http2, NextExchangeId);
        Http1 = new Http1Protocol(httpRows, options.Http1, Http2.CreateUpgradedParser);
        Tls = new TlsProtocol(tls, options.Tls);
        Dns = new DnsProtocol(dns, options.Dns);
        // HTTP/2 first: its preface ("PRI * HTTP/2.0") must not be taken for an HTTP/1 request.
        StreamProtocols = [Http2, Http1, Tls, Dns];
        DatagramProtocols = [Dns];
    }

    public Http1Protocol Http1 { get; }
    public Http2Protocol Http2 { get; }
    public TlsProtocol Tls { get; }
    public DnsProtocol Dns { get; }

    /// <summary>Protocols for TCP streams, in classification order.</summary>
    public IReadOnlyList<IStreamProtocol> StreamProtocols { get; }

    /// <summary>Protocols for UDP datagrams.</summary>
    public IReadOnlyList<IDatagramProtocol> DatagramProtocols { get; }

    /// <summary>Exchange ids handed out so far.</summary>
    public long ExchangeCount => Interlocked.Read(ref _lastExchangeId);

    private long NextExchangeId() => Interlocked.Increment(ref _lastExchangeId);

    /// <summary>
    /// Gives an id to exchanges whose parser did not (HTTP/1 leaves it 0) and flags retries across
    /// HTTP/1 and HTTP/2. Rows arrive roughly in request order (HTTP/1 emits a connection's
    /// exchanges in order when each response completes), which is what the detector needs.
    /// </summary>
    private sealed class ExchangeIdSink(IRowSink<HttpExchange> inner, Func<long> next, RetryDetector retries) : IRowSink<HttpExchange>
    {
        public void Add(HttpExchange row)
        {
            if (row.ExchangeId == 0) row.ExchangeId = next();
            retries.Observe(row);
            inner.Add(row);
        }
    }
}
