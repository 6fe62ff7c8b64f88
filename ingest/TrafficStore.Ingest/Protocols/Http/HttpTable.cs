using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Protocols.Http;

/// <summary>
/// The http table: the columns of the tshark oracle's http section first (same names and
/// meanings), then TrafficStore's own. Bodies themselves live in the payloads table.
/// </summary>
public static class HttpTable
{
    public static readonly TableDefinition<HttpExchange> Definition = new("http", 1, new[]
    {
        Column<HttpExchange>.String("proto", x => x.Protocol, "HTTP/1.0, HTTP/1.1 or HTTP/2"),
        Column<HttpExchange>.Int64("stream", x => x.ConnectionId, "connection id (tshark tcp.stream)"),
        Column<HttpExchange>.Int64("h2_stream", x => x.H2StreamId, "HTTP/2 stream id; empty for HTTP/1.x"),
        Column<HttpExchange>.String("client_ip", x => x.ClientIp, "client address"),
        Column<HttpExchange>.Int64("client_port", x => x.ClientPort, "client port"),
        Column<HttpExchange>.String("server_ip", x => x.ServerIp, "server address"),
        Column<HttpExchange>.Int64("server_port", x => x.ServerPort, "server port"),
        Column<HttpExchange>.Int64("req_frame", x => x.RequestFrame, "frame that completed the request (HTTP/2: request HEADERS)"),
        Column<HttpExchange>.Timestamp("req_ts", x => x.RequestTimestampNs, "time of req_frame"),
        Column<HttpExchange>.String("method", x => x.Method, "request method"),
        Column<HttpExchange>.String("host", x => x.Host, "Host header or :authority"),
        Column<HttpExchange>.String("uri", x => x.Uri, "request-target or :path"),
        Column<HttpExchange>.Int64("req_body", x => x.RequestBodyLength, "request body length before content decoding"),
        Column<HttpExchange>.Int64("resp_frame", x => x.ResponseFrame, "frame that completed the final response (HTTP/2: first HEADERS with :status >= 200)"),
        Column<HttpExchange>.Timestamp("resp_ts", x => x.ResponseTimestampNs, "time of resp_frame"),
        Column<HttpExchange>.Int64("status", x => x.Status, "final status code"),
        Column<HttpExchange>.String("content_type", x => x.ContentType, "response Content-Type"),
        Column<HttpExchange>.String("transfer_encoding", x => x.TransferEncoding, "response Transfer-Encoding (HTTP/1.x)"),
        Column<HttpExchange>.Int64("resp_body", x => x.ResponseBodyLength, "response body length before content decoding"),
        Column<HttpExchange>.Int64("resp_body_decoded", x => x.ResponseBodyDecodedLength, "response body length after content decoding"),
        Column<HttpExchange>.Duration("time", x => x.TimeNs, "resp_ts - req_ts"),
        Column<HttpExchange>.Int64("grpc_status", x => x.GrpcStatus, "grpc-status from trailers or headers"),
        // ---- TrafficStore columns
        Column<HttpExchange>.Int64("exchange_id", x => x.ExchangeId, "exchange id; key of its payloads"),
        Column<HttpExchange>.Timestamp("req_first_ts", x => x.RequestFirstByteNs, "time of the request's first byte"),
        Column<HttpExchange>.Timestamp("req_last_ts", x => x.RequestLastByteNs, "time of the request's last byte"),
        Column<HttpExchange>.Timestamp("resp_first_ts", x => x.ResponseFirstByteNs, "time of the response's first byte"),
        Column<HttpExchange>.Timestamp("resp_last_ts", x => x.ResponseLastByteNs, "time of the response's last byte"),
        Column<HttpExchange>.Duration("latency", x => x.ResponseFirstByteNs is { } r && x.RequestLastByteNs is { } q ? r - q : null, "request last byte to response first byte"),
        Column<HttpExchange>.String("reason", x => x.Reason, "HTTP/1.x reason phrase"),
        Column<HttpExchange>.String("req_content_type", x => x.RequestContentType, "request Content-Type"),
        Column<HttpExchange>.String("req_content_encoding", x => x.RequestContentEncoding, "request Content-Encoding"),
        Column<HttpExchange>.String("content_encoding", x => x.ContentEncoding, "response Content-Encoding"),
        Column<HttpExchange>.Int64("req_body_decoded", x => x.RequestBodyDecoded?.LongLength ?? x.RequestBody?.LongLength, "request body length after content decoding"),
        Column<HttpExchange>.Int64("interim_responses", x => x.InterimResponses, "1xx responses before the final one"),
        Column<HttpExchange>.Int64("req_header_count", x => x.RequestHeaders.Count, "request header fields"),
        Column<HttpExchange>.Int64("resp_header_count", x => x.ResponseHeaders.Count, "response header fields"),
        Column<HttpExchange>.String("grpc_service", x => x.GrpcService, "gRPC service from :path"),
        Column<HttpExchange>.String("grpc_method", x => x.GrpcMethod, "gRPC method from :path"),
        Column<HttpExchange>.String("grpc_message", x => x.GrpcMessage, "grpc-message"),
        Column<HttpExchange>.Int64("grpc_req_messages", x => x.GrpcRequestMessages, "length-prefixed gRPC messages sent by the client"),
        Column<HttpExchange>.Int64("grpc_resp_messages", x => x.GrpcResponseMessages, "length-prefixed gRPC messages sent by the server"),
        Column<HttpExchange>.Int64("grpc_req_bytes", x => x.GrpcRequestMessageBytes, "sum of client message lengths"),
        Column<HttpExchange>.Int64("grpc_resp_bytes", x => x.GrpcResponseMessageBytes, "sum of server message lengths"),
        Column<HttpExchange>.Boolean("grpc_compressed", x => x.GrpcCompressed, "any message had the compressed flag"),
        Column<HttpExchange>.Int64("h2_reset_code", x => x.H2ResetCode, "RST_STREAM error code"),
        Column<HttpExchange>.String("auth_scheme", x => x.AuthScheme, "Authorization scheme (value never shown here)"),
        Column<HttpExchange>.Int64("card_numbers", x => x.CardNumbers, "Luhn-valid card numbers in bodies"),
        Column<HttpExchange>.Int64("email_addresses", x => x.EmailAddresses, "e-mail addresses in bodies"),
        Column<HttpExchange>.Boolean("retry", x => x.Retry, "same request repeated within the retry window"),
        Column<HttpExchange>.Boolean("body_truncated", x => x.BodyTruncated, "a body hit the payload cap"),
        Column<HttpExchange>.String("anomalies", x => x.Anomalies.Count == 0 ? null : string.Join('|', x.Anomalies), "parser anomalies, |-joined"),
    });

    /// <summary>
    /// Table order: by the frame that completed the request (or, without one, the response), then
    /// in the order the parsers emitted them (the order tshark-oracle's http section uses).
    /// </summary>
    public static IEnumerable<HttpExchange> InTableOrder(IEnumerable<HttpExchange> rows) =>
        rows.Select((x, i) => (x, i))
            .OrderBy(p => p.x.RequestFrame ?? p.x.ResponseFrame ?? long.MaxValue)
            .ThenBy(p => p.i)
            .Select(p => p.x);
}
