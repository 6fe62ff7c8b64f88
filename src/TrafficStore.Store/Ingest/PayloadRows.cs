using System.Text;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// The payloads rows of an HTTP exchange — its request and its response, each with its header block
/// and bodies — as store ingest and the node agent both write them.
/// </summary>
public static class PayloadRows
{
    /// <summary>The request's row, or null when the exchange has no request (a lone response).</summary>
    /// <param name="exchangeStartNs">The exchange's http.ts, the time of a message whose own first byte is unknown.</param>
    public static PayloadRow? Request(HttpExchange x, long exchangeStartNs) =>
        x.Method is null && x.RequestHeaders.Count == 0 && x.RequestBody is null ? null
        : Row(x, "c2s", "request", x.RequestFirstByteNs ?? x.RequestTimestampNs ?? exchangeStartNs,
            $"{x.Method} {x.Uri} {x.Protocol}", x.RequestHeaders, x.RequestTrailers, x.RequestBody, x.RequestBodyDecoded);

    /// <summary>The response's row, or null when the exchange has no response (unanswered).</summary>
    public static PayloadRow? Response(HttpExchange x, long exchangeStartNs) =>
        x.Status is null && x.ResponseHeaders.Count == 0 && x.ResponseBody is null ? null
        : Row(x, "s2c", "response", x.ResponseFirstByteNs ?? x.ResponseTimestampNs ?? exchangeStartNs,
            $"{x.Protocol} {x.Status} {x.Reason}".TrimEnd(), x.ResponseHeaders, x.ResponseTrailers, x.ResponseBody, x.ResponseBodyDecoded);

    private static PayloadRow Row(HttpExchange x, string direction, string kind, long timestampNs, string startLine,
        List<KeyValuePair<string, string>> headers, List<KeyValuePair<string, string>> trailers, byte[]? body, byte[]? decoded)
    {
        var codings = DecodedBodyDerivation.Codings(body, decoded, headers);
        return Row(x, direction, kind, timestampNs, startLine, headers, trailers, body, decoded, codings);
    }

    private static PayloadRow Row(HttpExchange x, string direction, string kind, long timestampNs, string startLine,
        List<KeyValuePair<string, string>> headers, List<KeyValuePair<string, string>> trailers, byte[]? body, byte[]? decoded, string? codings) => new()
    {
        TimestampNs = timestampNs,
        ExchangeId = x.ExchangeId,
        ConnectionId = x.ConnectionId,
        Direction = direction,
        Kind = kind,
        Headers = HeaderText(startLine, headers, trailers),
        Body = body,
        BodyDecoded = decoded,
        BodyDecodedFrom = codings,
        BodyDecodedLength = codings is null ? null : decoded!.Length,
        Truncated = x.BodyTruncated,
    };

    /// <summary>The body bytes a row holds (what batching counts).</summary>
    public static long Bytes(PayloadRow row) => (row.Body?.Length ?? 0) + (row.BodyDecodedFrom is null ? row.BodyDecoded?.Length ?? 0 : 0);

    /// <summary>Start line, then "name: value" lines; trailers after an empty line.</summary>
    public static string HeaderText(string startLine, List<KeyValuePair<string, string>> headers, List<KeyValuePair<string, string>> trailers)
    {
        var sb = new StringBuilder(startLine).Append('\n');
        foreach (var (k, v) in headers) sb.Append(k).Append(": ").Append(v).Append('\n');
        if (trailers.Count > 0)
        {
            sb.Append('\n');
            foreach (var (k, v) in trailers) sb.Append(k).Append(": ").Append(v).Append('\n');
        }
        return sb.ToString();
    }
}
