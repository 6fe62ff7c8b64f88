namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>Oddities found while parsing TLS; stable snake_case names go into the tls table's anomalies column.</summary>
public enum TlsAnomaly : byte
{
    /// <summary>A record longer than <see cref="TlsOptions.MaxRecordLength"/> (RFC 8446 §5.1 allows 2^14 + 256); the direction stops.</summary>
    RecordTooLong,
    /// <summary>A record header with an unknown content type or a major version other than 3; the direction stops.</summary>
    BadRecord,
    /// <summary>A handshake message longer than <see cref="TlsOptions.MaxHandshakeMessageLength"/>; handshake parsing stops in that direction.</summary>
    HandshakeTooLong,
    /// <summary>A ClientHello/ServerHello/Certificate whose fields run past its length.</summary>
    BadHandshake,
    /// <summary>A certificate that X509 parsing rejected.</summary>
    BadCertificate,
    /// <summary>Bytes of the stream were not captured; that direction stops being parsed.</summary>
    Gap,
    /// <summary>The connection ended inside a record.</summary>
    TruncatedRecord,
}

public static class TlsAnomalies
{
    public static string Name(TlsAnomaly a) => a switch
    {
        TlsAnomaly.RecordTooLong => "tls_record_too_long",
        TlsAnomaly.BadRecord => "tls_bad_record",
        TlsAnomaly.HandshakeTooLong => "tls_handshake_too_long",
        TlsAnomaly.BadHandshake => "tls_bad_handshake",
        TlsAnomaly.BadCertificate => "tls_bad_certificate",
        TlsAnomaly.Gap => "tls_gap",
        TlsAnomaly.TruncatedRecord => "tls_truncated_record",
        _ => "tls_unknown",
    };
}
