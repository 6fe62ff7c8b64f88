using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>TLS over TCP (SSL 3.0 – TLS 1.3 and its drafts). One <see cref="TlsHandshake"/> row per connection, at its end.</summary>
public sealed class TlsProtocol : IStreamProtocol
{
    private readonly IRowSink<TlsHandshake> _sink;
    private readonly TlsOptions _options;

    public TlsProtocol(IRowSink<TlsHandshake> sink, TlsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _options = options ?? new TlsOptions();
    }

    public string Name => "tls";

    /// <summary>HTTPS, and the TLS ports tshark maps by default that matter in a cluster (LDAPS, IMAPS, POP3S, SMTPS, kube-apiserver 6443).</summary>
    public bool IsWellKnownPort(ushort serverPort) => serverPort is 443 or 465 or 636 or 853 or 993 or 995 or 6443 or 8443;

    public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes) => TlsClassifier.Classify(firstBytes);

    public IStreamParser CreateParser(FlowContext flow) => new TlsConnectionParser(flow, _sink, _options);
}
