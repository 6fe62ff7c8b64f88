namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>The closed set of anomaly names the HTTP/2 and gRPC parser records (stable, snake_case).</summary>
public static class Http2Anomalies
{
    /// <summary>No client connection preface: the capture started mid-connection; HPACK state before it is unknown.</summary>
    public const string MidstreamPickup = "h2_midstream_pickup";
    /// <summary>A frame longer than <see cref="Http2Options.MaxFrameSize"/> was skipped.</summary>
    public const string FrameTooLarge = "h2_frame_too_large";
    /// <summary>A header block was interrupted by a frame other than its CONTINUATION (RFC 9113 §6.10).</summary>
    public const string ContinuationExpected = "h2_continuation_expected";
    /// <summary>CONTINUATION without an open header block.</summary>
    public const string UnexpectedContinuation = "h2_unexpected_continuation";
    /// <summary>Pad Length not smaller than the payload (RFC 9113 §6.1).</summary>
    public const string InvalidPadding = "h2_invalid_padding";
    /// <summary>A fixed-size frame (PRIORITY, RST_STREAM, PING, SETTINGS, WINDOW_UPDATE, GOAWAY) of the wrong length.</summary>
    public const string InvalidFrameSize = "h2_invalid_frame_size";
    /// <summary>A stream frame (DATA, HEADERS ...) on stream 0.</summary>
    public const string StreamIdZero = "h2_stream_id_zero";
    /// <summary>A header block HPACK could not decode; the dynamic table may be out of sync from here on.</summary>
    public const string HpackDecodeError = "hpack_decode_error";
    /// <summary>A header field referenced a dynamic table entry from before the capture (mid-stream).</summary>
    public const string HpackUnknownIndex = "hpack_unknown_index";
    /// <summary>A header list hit <see cref="Http2Options.MaxHeaderListSize"/>; fields beyond it were dropped.</summary>
    public const string HeaderListTooLarge = "h2_header_list_too_large";
    /// <summary>The stream's id is above the last-stream-id of a GOAWAY: the peer did not process it.</summary>
    public const string GoawayUnprocessed = "h2_goaway_unprocessed";
    /// <summary>The connection ended before the stream was closed by both sides.</summary>
    public const string StreamIncomplete = "h2_stream_incomplete";
    /// <summary>More streams open at once than <see cref="Http2Options.MaxOpenStreams"/>.</summary>
    public const string TooManyStreams = "h2_too_many_streams";
    /// <summary>Bytes of the connection were missing from the capture; the frame layer resynchronised.</summary>
    public const string DataGap = "h2_data_gap";
    /// <summary>A gRPC length-prefixed message was cut by the end of the stream.</summary>
    public const string GrpcMessageTruncated = "grpc_message_truncated";
    /// <summary>A body exceeded <see cref="Http.PayloadOptions.MaxBodyBytes"/>; the kept bytes are a prefix (same name as HTTP/1.x).</summary>
    public const string BodyCap = "body_cap";
    // Content decoding anomalies are ContentDecodeResult.AnomalyName's, shared with HTTP/1.x:
    // unsupported_content_encoding, content_decode_failed, decoded_body_cap.
}
