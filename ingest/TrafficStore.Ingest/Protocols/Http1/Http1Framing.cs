namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>
/// Message body length rules of RFC 9112 §6.3, applied once a header section is read. The
/// numbered comments are the rule numbers of that section.
/// </summary>
internal static class Http1Framing
{
    public static Http1BodyMode ForRequest(Http1Message m)
    {
        if (m.TransferEncodings.Count > 0)
        {
            if (m.ContentLengths.Count > 0) Add(m, Http1Anomaly.ContentLengthWithTransferEncoding);
            // rule 4: a request whose final transfer coding is not chunked cannot be delimited
            if (LastTransferCodingIsChunked(m)) return Http1BodyMode.Chunked;
            Add(m, Http1Anomaly.UnsupportedTransferEncoding);
            return Http1BodyMode.Unknowable;
        }
        // rule 6 / rule 7: Content-Length, else no body
        return m.ContentLengths.Count > 0 ? FromContentLength(m) : Http1BodyMode.None;
    }

    public static Http1BodyMode ForResponse(Http1Message m, string? requestMethod)
    {
        // rule 1: HEAD responses and 1xx, 204, 304 never have a body
        if (requestMethod == "HEAD" || (m.Status >= 100 && m.Status < 200) || m.Status == 204 || m.Status == 304) return Http1BodyMode.None;
        if (m.TransferEncodings.Count > 0)
        {
            if (m.ContentLengths.Count > 0) Add(m, Http1Anomaly.ContentLengthWithTransferEncoding);
            // rule 4: final coding chunked, else read until the connection closes
            if (LastTransferCodingIsChunked(m)) return Http1BodyMode.Chunked;
            Add(m, Http1Anomaly.UnsupportedTransferEncoding);
            return Http1BodyMode.UntilClose;
        }
        // rule 5 / 6 / 8
        return m.ContentLengths.Count > 0 ? FromContentLength(m) : Http1BodyMode.UntilClose;
    }

    private static Http1BodyMode FromContentLength(Http1Message m)
    {
        long length = -1;
        foreach (var v in m.ContentLengths)
        {
            if (!Http1Syntax.TryParseContentLength(v, out long l))
            {
                Add(m, Http1Anomaly.InvalidContentLength);
                return Http1BodyMode.Unknowable;
            }
            if (length >= 0 && l != length)
            {
                Add(m, Http1Anomaly.ConflictingContentLength);
                return Http1BodyMode.Unknowable;
            }
            length = l;
        }
        m.ContentLength = length;
        return Http1BodyMode.ContentLength;
    }

    private static bool LastTransferCodingIsChunked(Http1Message m)
    {
        string last = "";
        foreach (var v in m.TransferEncodings)
        {
            foreach (var part in v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) last = part;
        }
        return last.Equals("chunked", StringComparison.OrdinalIgnoreCase);
    }

    private static void Add(Http1Message m, Http1Anomaly a)
    {
        if (!m.Anomalies.Contains(a)) m.Anomalies.Add(a);
    }
}
