namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>Caps of the TLS parser. Hitting one records an anomaly; nothing is cut silently.</summary>
public sealed class TlsOptions
{
    /// <summary>
    /// Longest record accepted (anomaly tls_record_too_long, the direction stops). TLS 1.2 allows
    /// 2^14 + 2048 bytes of ciphertext (RFC 5246 §6.2.3), TLS 1.3 2^14 + 256 (RFC 8446 §5.2).
    /// </summary>
    public int MaxRecordLength { get; init; } = (1 << 14) + 2048;

    /// <summary>Longest handshake message reassembled (certificate chains are the large ones).</summary>
    public int MaxHandshakeMessageLength { get; init; } = 256 * 1024;

    /// <summary>Certificates of the server chain whose subject/issuer are decoded (the leaf is the first).</summary>
    public int MaxCertificates { get; init; } = 16;
}
