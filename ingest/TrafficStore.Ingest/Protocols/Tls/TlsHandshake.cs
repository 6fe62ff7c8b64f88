namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>
/// One row per TCP connection that carried a ClientHello, a ServerHello or an alert: what was
/// offered, what was chosen, the server certificate (TLS ≤ 1.2), the first alert and the timing.
/// </summary>
public sealed class TlsHandshake
{
    public required long ConnectionId { get; init; }
    /// <summary>The ClientHello's sender (else the ServerHello's receiver, else the flow's client).</summary>
    public required string ClientIp { get; set; }
    public required int ClientPort { get; set; }
    public required string ServerIp { get; set; }
    public required int ServerPort { get; set; }

    public int ClientHellos { get; set; }
    public int ServerHellos { get; set; }

    /// <summary>The first ClientHello (null if none was seen).</summary>
    public TlsClientHello? ClientHello { get; set; }
    public long? ClientHelloTimestampNs { get; set; }
    public long? ClientHelloFrame { get; set; }
    /// <summary>Record-layer version of the record carrying the first ClientHello.</summary>
    public int? ClientHelloRecordVersion { get; set; }

    /// <summary>The last ServerHello (or HelloRetryRequest).</summary>
    public TlsServerHello? ServerHello { get; set; }
    public long? FirstServerHelloTimestampNs { get; set; }
    public long? LastServerHelloTimestampNs { get; set; }
    public bool HelloRetryRequest { get; set; }

    /// <summary>"2:40 Handshake Failure" style, or "encrypted".</summary>
    public string? Alert { get; set; }
    public string? AlertDirection { get; set; }
    public int Alerts { get; set; }

    public List<TlsCertificateSummary> Certificates { get; } = new();
    public int CertificateCount { get; set; }

    /// <summary>First application data record (TLS 1.3: the first after the client's encrypted Finished).</summary>
    public long? FirstApplicationDataTimestampNs { get; set; }
    public SortedSet<string> Anomalies { get; } = new(StringComparer.Ordinal);

    public long? HelloDelayNs => FirstServerHelloTimestampNs is { } s && ClientHelloTimestampNs is { } c ? s - c : null;
    public int? NegotiatedVersion => ServerHello?.NegotiatedVersion;
}
