namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>
/// The closed set of oddities the HTTP/1.x parser records (names are stable, stored in the
/// anomalies column). "Not HTTP at all" is the classifier's business, not an anomaly.
/// </summary>
public enum Http1Anomaly : byte
{
    /// <summary>The direction's first bytes were not a message start (capture began mid-message); skipped to the next start line.</summary>
    MidstreamPickup,
    /// <summary>Where a start line was expected the bytes were not one; skipped to the next start line.</summary>
    InvalidStartLine,
    StartLineTooLong,
    HeaderLineTooLong,
    InvalidHeaderLine,
    /// <summary>Obsolete line folding (RFC 9112 §5.2), tolerated: the fold is replaced by a space.</summary>
    ObsFold,
    /// <summary>MaxHeaderBytes of header fields were kept; the rest were read but not stored.</summary>
    HeaderBytesCap,
    HeaderCountCap,
    InvalidContentLength,
    ConflictingContentLength,
    /// <summary>RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length; both present is a smuggling sign.</summary>
    ContentLengthWithTransferEncoding,
    /// <summary>A request whose Transfer-Encoding does not end in chunked (RFC 9112 §6.3 rule 4) or a response read to close for that reason.</summary>
    UnsupportedTransferEncoding,
    InvalidChunkSize,
    MissingChunkCrlf,
    /// <summary>Bytes missing from the capture inside a body; counted in the length, absent from the stored body.</summary>
    BodyGap,
    /// <summary>Bytes missing inside headers or chunk framing: the message is cut and parsing resyncs.</summary>
    FramingGap,
    RequestIncomplete,
    ResponseIncomplete,
    /// <summary>A body hit PayloadOptions.MaxBodyBytes; the length is still counted.</summary>
    BodyCap,
    ResponseWithoutRequest,
    InterimWithoutRequest,
    /// <summary>CONNECT answered 2xx: the rest of the connection is an opaque tunnel.</summary>
    ConnectTunnel,
    /// <summary>101 to an upgrade other than h2c (WebSocket ...): the rest is not HTTP/1.</summary>
    UpgradeTunnel,
    /// <summary>101 to Upgrade: h2c: the rest of the connection went to the HTTP/2 parser.</summary>
    H2cUpgrade,
    /// <summary>Client bytes after an Upgrade/CONNECT request exceeded MaxHeldUpgradeBytes before the answer.</summary>
    UpgradeHoldOverflow,
    /// <summary>Requests came from the end the flow table took for the server (connection picked up without its SYN); client and server columns follow the requests.</summary>
    RolesReversed,
}

public static class Http1AnomalyNames
{
    public static string ToName(this Http1Anomaly a) => a switch
    {
        Http1Anomaly.MidstreamPickup => "midstream_pickup",
        Http1Anomaly.InvalidStartLine => "invalid_start_line",
        Http1Anomaly.StartLineTooLong => "start_line_too_long",
        Http1Anomaly.HeaderLineTooLong => "header_line_too_long",
        Http1Anomaly.InvalidHeaderLine => "invalid_header_line",
        Http1Anomaly.ObsFold => "obs_fold",
        Http1Anomaly.HeaderBytesCap => "header_bytes_cap",
        Http1Anomaly.HeaderCountCap => "header_count_cap",
        Http1Anomaly.InvalidContentLength => "invalid_content_length",
        Http1Anomaly.ConflictingContentLength => "conflicting_content_length",
        Http1Anomaly.ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
        Http1Anomaly.UnsupportedTransferEncoding => "unsupported_transfer_encoding",
        Http1Anomaly.InvalidChunkSize => "invalid_chunk_size",
        Http1Anomaly.MissingChunkCrlf => "missing_chunk_crlf",
        Http1Anomaly.BodyGap => "body_gap",
        Http1Anomaly.FramingGap => "framing_gap",
        Http1Anomaly.RequestIncomplete => "request_incomplete",
        Http1Anomaly.ResponseIncomplete => "response_incomplete",
        Http1Anomaly.BodyCap => "body_cap",
        Http1Anomaly.ResponseWithoutRequest => "response_without_request",
        Http1Anomaly.InterimWithoutRequest => "interim_without_request",
        Http1Anomaly.ConnectTunnel => "connect_tunnel",
        Http1Anomaly.UpgradeTunnel => "upgrade_tunnel",
        Http1Anomaly.H2cUpgrade => "h2c_upgrade",
        Http1Anomaly.UpgradeHoldOverflow => "upgrade_hold_overflow",
        Http1Anomaly.RolesReversed => "roles_reversed",
        _ => "unknown",
    };
}
