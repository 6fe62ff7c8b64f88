using System.Text;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Tests.Protocols.Http;

/// <summary>Row description for split-invariance (every column, headers, trailers and bodies) and a test flow.</summary>
public static class HttpRows
{
    public static FlowContext Flow { get; } = new(7, Transport.Tcp, NetAddress.Parse("10.0.0.1"), 40000, NetAddress.Parse("10.0.0.2"), 80);

    public static string Describe(HttpExchange x)
    {
        var sb = new StringBuilder();
        foreach (var c in HttpTable.Definition.Columns) sb.Append(c.Name).Append('=').Append(c.FormatText(x)).Append(';');
        foreach (var (n, v) in x.RequestHeaders) sb.Append("qh:").Append(n).Append('=').Append(v).Append(';');
        foreach (var (n, v) in x.RequestTrailers) sb.Append("qt:").Append(n).Append('=').Append(v).Append(';');
        foreach (var (n, v) in x.ResponseHeaders) sb.Append("rh:").Append(n).Append('=').Append(v).Append(';');
        foreach (var (n, v) in x.ResponseTrailers) sb.Append("rt:").Append(n).Append('=').Append(v).Append(';');
        sb.Append("qb=").Append(Hex(x.RequestBody)).Append(";qd=").Append(Hex(x.RequestBodyDecoded));
        sb.Append(";rb=").Append(Hex(x.ResponseBody)).Append(";rd=").Append(Hex(x.ResponseBodyDecoded));
        return sb.ToString();
    }

    private static string Hex(byte[]? b) => b is null ? "null" : Convert.ToHexString(b);

    public static string Text(byte[]? b) => b is null ? "" : Encoding.UTF8.GetString(b);
}
