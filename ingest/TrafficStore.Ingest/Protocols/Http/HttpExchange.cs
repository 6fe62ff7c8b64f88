namespace TrafficStore.Ingest.Protocols.Http;

/// <summary>
/// One HTTP exchange: an HTTP/1.x request/response pair, or an HTTP/2 stream (a gRPC call is an
/// HTTP/2 stream with gRPC fields set). Either half may be missing when the capture lacks it.
/// Filled by the HTTP/1 and HTTP/2 parsers; columns in <see cref="HttpTable"/>.
/// </summary>
public sealed class HttpExchange
{
    /// <summary>Unique within one ingest run; the key payloads are addressed by.</summary>
    public long ExchangeId { get; set; }
    public long ConnectionId { get; set; }
    /// <summary>"HTTP/1.0", "HTTP/1.1" (from the message) or "HTTP/2".</summary>
    public string Protocol { get; set; } = "";
    /// <summary>HTTP/2 stream id; null for HTTP/1.x.</summary>
    public long? H2StreamId { get; set; }
    public string ClientIp { get; set; } = "";
    public int ClientPort { get; set; }
    public string ServerIp { get; set; } = "";
    public int ServerPort { get; set; }

    // ---- request half (null/empty when not seen)
    /// <summary>tshark's req_frame: HTTP/1.x the frame that completed the whole message; HTTP/2 the frame carrying the request HEADERS.</summary>
    public long? RequestFrame { get; set; }
    /// <summary>tshark's req_ts: the time of <see cref="RequestFrame"/>.</summary>
    public long? RequestTimestampNs { get; set; }
    /// <summary>Time of the request's first byte.</summary>
    public long? RequestFirstByteNs { get; set; }
    /// <summary>Time of the request's last byte (end of body / END_STREAM).</summary>
    public long? RequestLastByteNs { get; set; }
    public string? Method { get; set; }
    /// <summary>Host header or :authority.</summary>
    public string? Host { get; set; }
    /// <summary>Request-target or :path.</summary>
    public string? Uri { get; set; }
    /// <summary>Header fields in wire order (HTTP/2: pseudo-headers included, as decoded).</summary>
    public List<KeyValuePair<string, string>> RequestHeaders { get; } = new();
    public List<KeyValuePair<string, string>> RequestTrailers { get; } = new();
    /// <summary>Body as sent, after de-chunking, before content decoding (HTTP/2: DATA payloads, padding excluded).</summary>
    public byte[]? RequestBody { get; set; }
    /// <summary>Body after content decoding (null when not content-encoded or not decodable).</summary>
    public byte[]? RequestBodyDecoded { get; set; }
    /// <summary>tshark's req_body: message-body length (HTTP/2: sum of DATA frame lengths, padding included).</summary>
    public long? RequestBodyLength { get; set; }
    public string? RequestContentType { get; set; }
    public string? RequestContentEncoding { get; set; }

    // ---- response half
    /// <summary>tshark's resp_frame: HTTP/1.x the frame that completed the final response; HTTP/2 the frame with the first HEADERS whose :status is >= 200.</summary>
    public long? ResponseFrame { get; set; }
    /// <summary>tshark's resp_ts: the time of <see cref="ResponseFrame"/>.</summary>
    public long? ResponseTimestampNs { get; set; }
    public long? ResponseFirstByteNs { get; set; }
    public long? ResponseLastByteNs { get; set; }
    public int? Status { get; set; }
    public string? Reason { get; set; }
    public List<KeyValuePair<string, string>> ResponseHeaders { get; } = new();
    public List<KeyValuePair<string, string>> ResponseTrailers { get; } = new();
    public string? ContentType { get; set; }
    public string? TransferEncoding { get; set; }
    public string? ContentEncoding { get; set; }
    public byte[]? ResponseBody { get; set; }
    public byte[]? ResponseBodyDecoded { get; set; }
    /// <summary>tshark's resp_body: length before content decoding (HTTP/2: DATA frame lengths).</summary>
    public long? ResponseBodyLength { get; set; }
    /// <summary>tshark's resp_body_decoded: length after content decoding.</summary>
    public long? ResponseBodyDecodedLength { get; set; }
    /// <summary>Interim 1xx responses (100 Continue ...) seen before the final one.</summary>
    public int InterimResponses { get; set; }

    // ---- gRPC (HTTP/2 streams with content-type application/grpc*)
    public string? GrpcService { get; set; }
    public string? GrpcMethod { get; set; }
    public int? GrpcStatus { get; set; }
    public string? GrpcMessage { get; set; }
    public int GrpcRequestMessages { get; set; }
    public int GrpcResponseMessages { get; set; }
    public long GrpcRequestMessageBytes { get; set; }
    public long GrpcResponseMessageBytes { get; set; }
    public bool GrpcCompressed { get; set; }

    // ---- HTTP/2 stream end
    /// <summary>RST_STREAM error code when the stream was reset.</summary>
    public long? H2ResetCode { get; set; }

    // ---- signals
    /// <summary>Scheme of the Authorization header ("Bearer", "Basic" ...), null when absent.</summary>
    public string? AuthScheme { get; set; }
    /// <summary>Luhn-valid card numbers found in request or response bodies.</summary>
    public int CardNumbers { get; set; }
    /// <summary>E-mail addresses found in request or response bodies.</summary>
    public int EmailAddresses { get; set; }
    /// <summary>Same method and target repeated on the connection or by the client within a short window.</summary>
    public bool Retry { get; set; }
    /// <summary>True when a body hit the configured payload cap and was cut.</summary>
    public bool BodyTruncated { get; set; }
    /// <summary>Anomaly names (snake_case) the parser recorded for this exchange.</summary>
    public List<string> Anomalies { get; } = new();

    /// <summary>tshark's time column: resp_ts - req_ts (http.time for HTTP/1.x).</summary>
    public long? TimeNs => RequestTimestampNs is { } q && ResponseTimestampNs is { } r ? r - q : null;
}
