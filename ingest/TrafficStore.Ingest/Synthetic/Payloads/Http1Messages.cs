using System.Text;

namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>How a response body is framed on the wire (RFC 9112 section 6).</summary>
internal enum BodyFraming { ContentLength, Gzip, Chunked }

/// <summary>One request/response pair of an HTTP/1.1 keep-alive connection, decided up front.</summary>
internal sealed record HttpExchangePlan(
    string Method,
    string Target,
    int Status,
    string ContentType,
    ReadOnlyMemory<byte> ResponseBody,
    BodyFraming Framing = BodyFraming.ContentLength,
    ReadOnlyMemory<byte> RequestBody = default,
    bool Authorized = true,
    long ThinkNs = 2_000_000,
    long IdleAfterNs = 50_000_000);

/// <summary>Builds HTTP/1.1 message heads and bodies (RFC 9112).</summary>
internal static class Http1Messages
{
    public static string Reason(int status) => status switch
    {
        200 => "OK", 201 => "Created", 204 => "No Content", 401 => "Unauthorized", 403 => "Forbidden",
        404 => "Not Found", 429 => "Too Many Requests", 500 => "Internal Server Error", 503 => "Service Unavailable",
        _ => "Unknown",
    };

    public static byte[] Request(HttpExchangePlan plan, string host, string userAgent, string bearerToken, string requestId)
    {
        var sb = new StringBuilder(256);
        sb.Append(plan.Method).Append(' ').Append(plan.Target).Append(" HTTP/1.1\r\n");
        sb.Append("Host: ").Append(host).Append("\r\n");
        sb.Append("User-Agent: ").Append(userAgent).Append("\r\n");
        sb.Append("Accept: application/json\r\n");
        sb.Append("Accept-Encoding: gzip\r\n");
        if (plan.Authorized) sb.Append("Authorization: Bearer ").Append(bearerToken).Append("\r\n");
        sb.Append("X-Request-Id: ").Append(requestId).Append("\r\n");
        if (!plan.RequestBody.IsEmpty)
        {
            sb.Append("Content-Type: application/json\r\n");
            sb.Append("Content-Length: ").Append(plan.RequestBody.Length).Append("\r\n");
        }
        sb.Append("\r\n");
        int headLength = Encoding.ASCII.GetByteCount(sb.ToString());
        var bytes = new byte[headLength + plan.RequestBody.Length];
        Encoding.ASCII.GetBytes(sb.ToString(), bytes);
        plan.RequestBody.Span.CopyTo(bytes.AsSpan(headLength));
        return bytes;
    }

    /// <summary>The response head; for chunked framing the body must come from <see cref="Chunk"/>.</summary>
    public static byte[] ResponseHead(HttpExchangePlan plan, DateTimeOffset date, int bodyLength)
    {
        var sb = new StringBuilder(256);
        sb.Append("HTTP/1.1 ").Append(plan.Status).Append(' ').Append(Reason(plan.Status)).Append("\r\n");
        sb.Append("Date: ").Append(date.UtcDateTime.ToString("r", System.Globalization.CultureInfo.InvariantCulture)).Append("\r\n");
        sb.Append("Content-Type: ").Append(plan.ContentType).Append("\r\n");
        switch (plan.Framing)
        {
            case BodyFraming.Chunked:
                sb.Append("Transfer-Encoding: chunked\r\n");
                break;
            case BodyFraming.Gzip:
                sb.Append("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
                sb.Append("Content-Length: ").Append(bodyLength).Append("\r\n");
                break;
            default:
                sb.Append("Content-Length: ").Append(bodyLength).Append("\r\n");
                break;
        }
        if (plan.Status == 429) sb.Append("Retry-After: 2\r\n");
        if (plan.Status == 401) sb.Append("WWW-Authenticate: Bearer realm=\"shop\", error=\"invalid_token\"\r\n");
        sb.Append("Server: envoy\r\nConnection: keep-alive\r\n\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>RFC 9112 section 7.1: chunks of hex size, CRLF, data, CRLF; a zero chunk ends it.</summary>
    public static byte[] Chunk(IEnumerable<ReadOnlyMemory<byte>> chunks)
    {
        var w = new ByteWriter(1024);
        foreach (ReadOnlyMemory<byte> c in chunks)
        {
            w.Ascii(c.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
            w.Ascii("\r\n");
            w.Bytes(c.Span);
            w.Ascii("\r\n");
        }
        w.Ascii("0\r\n\r\n");
        return w.ToArray();
    }

    public static byte[] ErrorJson(int status, string code, string message) =>
        Encoding.UTF8.GetBytes($"{{\"error\":\"{code}\",\"status\":{status},\"message\":\"{message}\"}}");
}
