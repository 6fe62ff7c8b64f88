using System.Text;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Cli.Inspect;

/// <summary>
/// Prints one exchange the way a person reads HTTP: request line or pseudo-headers, header fields
/// in wire order, the body (content-decoded when it was encoded) as text when it is text and as a
/// hex dump otherwise, then the same for the response.
/// </summary>
public static class HttpPayloadPrinter
{
    private const int HexDumpLimit = 4096;

    public static void Write(TextWriter output, HttpExchange x)
    {
        output.WriteLine($"=== exchange {x.ExchangeId}  {x.Protocol}  connection {x.ConnectionId}{(x.H2StreamId is { } s ? $"  h2 stream {s}" : "")}  {x.ClientIp}:{x.ClientPort} -> {x.ServerIp}:{x.ServerPort}");
        if (x.Method is not null)
        {
            output.WriteLine(x.Protocol == "HTTP/2" ? $"> {x.Method} {x.Uri}" : $"> {x.Method} {x.Uri} {x.Protocol}");
            WriteHeaders(output, "> ", x.RequestHeaders);
            WriteBody(output, "> ", x.RequestBody, x.RequestBodyDecoded, x.RequestContentEncoding);
            WriteHeaders(output, "> [trailer] ", x.RequestTrailers);
        }
        else
        {
            output.WriteLine("> (request not captured)");
        }
        if (x.Status is { } status)
        {
            output.WriteLine(x.Protocol == "HTTP/2" ? $"< {status}" : $"< {x.Protocol} {status} {x.Reason}");
            WriteHeaders(output, "< ", x.ResponseHeaders);
            WriteBody(output, "< ", x.ResponseBody, x.ResponseBodyDecoded, x.ContentEncoding);
            WriteHeaders(output, "< [trailer] ", x.ResponseTrailers);
        }
        else
        {
            output.WriteLine("< (no response captured)");
        }
        if (x.Anomalies.Count > 0) output.WriteLine("! anomalies: " + string.Join(", ", x.Anomalies));
        output.WriteLine();
    }

    private static void WriteHeaders(TextWriter output, string prefix, List<KeyValuePair<string, string>> headers)
    {
        foreach (var (name, value) in headers) output.WriteLine($"{prefix}{name}: {value}");
    }

    private static void WriteBody(TextWriter output, string prefix, byte[]? raw, byte[]? decoded, string? encoding)
    {
        var body = decoded ?? raw;
        if (body is null || body.Length == 0) return;
        output.WriteLine(decoded is not null && encoding is not null
            ? $"{prefix}[body: {raw?.Length ?? 0} bytes {encoding}, {decoded.Length} bytes decoded]"
            : $"{prefix}[body: {body.Length} bytes]");
        if (LooksLikeText(body))
        {
            foreach (var line in Encoding.UTF8.GetString(body).Split('\n')) output.WriteLine(prefix + line.TrimEnd('\r'));
        }
        else
        {
            WriteHexDump(output, prefix, body);
        }
    }

    private static bool LooksLikeText(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body)) return false;
        int control = 0;
        foreach (byte b in body.Length > 8192 ? body[..8192] : body)
        {
            if (b < 0x20 && b is not (0x09 or 0x0a or 0x0d)) control++;
        }
        return control == 0;
    }

    private static void WriteHexDump(TextWriter output, string prefix, byte[] body)
    {
        int n = Math.Min(body.Length, HexDumpLimit);
        var line = new StringBuilder();
        for (int off = 0; off < n; off += 16)
        {
            line.Clear().Append(prefix).Append(off.ToString("x6")).Append("  ");
            for (int i = 0; i < 16; i++) line.Append(off + i < n ? body[off + i].ToString("x2") + " " : "   ");
            line.Append(' ');
            for (int i = 0; i < 16 && off + i < n; i++) line.Append(body[off + i] is >= 0x20 and < 0x7f ? (char)body[off + i] : '.');
            output.WriteLine(line.ToString());
        }
        if (body.Length > n) output.WriteLine($"{prefix}... {body.Length - n} more bytes (the store keeps them all; export with `trafficstore query --table payloads`)");
    }
}
