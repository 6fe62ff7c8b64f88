using System.Security.Cryptography;
using System.Text.Json;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

/// <summary>
/// HTTP/1 rows checked against the other projects' own baselines shipped beside the captures:
/// Zeek's http.log (btest baselines) and Arkime's session JSON (regression tests).
/// </summary>
public class Http1SecondOpinionTests
{
    public static TheoryData<string> ZeekLogs() => new() { "http11-get-simple.pcap", "http11-pipelined-keepalive.pcap", "http11-post-100-continue-chunked.pcap" };

    /// <summary>
    /// Zeek http.log, row by row in order: method, host, uri, version, status_code, info_code (the
    /// interim 1xx), request_body_len and response_body_len. Zeek's body lengths are after content
    /// decoding ("-" / 0 when there is no body), i.e. our *BodyDecoded lengths.
    /// </summary>
    [Theory]
    [MemberData(nameof(ZeekLogs))]
    public void RowsAgreeWithZeekHttpLog(string capture)
    {
        var log = ReadZeekLog(Path.Combine(SharedData.PcapDir, Path.GetFileNameWithoutExtension(capture) + ".zeek-http.log"));
        var rows = Http1CorpusTests.Run(capture);
        Assert.Equal(log.Count, rows.Count);
        for (int i = 0; i < log.Count; i++)
        {
            var z = log[i];
            var x = rows[i];
            Assert.Equal(z["id.orig_p"], x.ClientPort.ToString());
            Assert.Equal(z["method"], x.Method);
            Assert.Equal(z["host"], x.Host);
            Assert.Equal(z["uri"], x.Uri);
            Assert.Equal("HTTP/" + z["version"], x.Protocol);
            Assert.Equal(z["status_code"], x.Status.ToString());
            Assert.Equal(z["info_code"] == "-" ? 0 : 1, x.InterimResponses);
            Assert.Equal(z["request_body_len"], (x.RequestBodyDecoded?.LongLength ?? x.RequestBodyLength ?? 0).ToString());
            Assert.Equal(z["response_body_len"], (x.ResponseBodyDecodedLength ?? 0).ToString());
        }
    }

    public static TheoryData<string> ArkimeSessions() => new() { "http11-post-multipart-retrans.pcap", "ipv6-http.pcap", "tcp-retrans-fastretrans-dupack.pcap", "vlan-double-tagged-http.pcap" };

    /// <summary>
    /// Arkime's session (one per connection here): methods, paths, status codes, request header
    /// names and the MD5s of every non-empty body (request and response, after de-chunking and
    /// content decoding) as sets.
    /// </summary>
    [Theory]
    [MemberData(nameof(ArkimeSessions))]
    public void SessionsAgreeWithArkime(string capture)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.PcapDir, Path.GetFileNameWithoutExtension(capture) + ".arkime.json")));
        var http = doc.RootElement.GetProperty("sessions3").EnumerateArray()
            .Select(s => s.TryGetProperty("body", out var b) ? b : s)
            .Single(b => b.TryGetProperty("http", out _)).GetProperty("http");
        var rows = Http1CorpusTests.Run(capture);

        Assert.Equal(Strings(http, "method").Order(), rows.Select(r => r.Method!).Distinct().Order());
        Assert.Equal(Strings(http, "path").Order(), rows.Select(r => r.Uri!).Distinct().Order());
        Assert.Equal(http.GetProperty("statuscode").EnumerateArray().Select(e => e.GetInt32()).Order(), rows.Select(r => r.Status!.Value).Distinct().Order());
        Assert.Equal(Strings(http, "requestHeader").Order(), rows.SelectMany(r => r.RequestHeaders.Select(h => h.Key.ToLowerInvariant())).Distinct().Order());
        Assert.All(rows, r => Assert.Contains(r.Host ?? "", Strings(http, "host")));

        // Arkime hashes only bodies it saw complete; the vlan capture's response is cut short
        var bodies = rows.SelectMany(r => new[] { r.RequestBodyDecoded ?? r.RequestBody, r.Anomalies.Contains("response_incomplete") ? null : r.ResponseBodyDecoded ?? r.ResponseBody })
            .Where(b => b is { Length: > 0 }).Select(b => Convert.ToHexStringLower(MD5.HashData(b!))).Distinct().Order();
        Assert.Equal(Strings(http, "md5").Order(), bodies);
    }

    private static List<string> Strings(JsonElement http, string name) =>
        http.TryGetProperty(name, out var a) ? a.EnumerateArray().Select(e => e.GetString()!).ToList() : new List<string>();

    private static List<Dictionary<string, string>> ReadZeekLog(string path)
    {
        string[]? fields = null;
        var rows = new List<Dictionary<string, string>>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith("#fields", StringComparison.Ordinal)) fields = line.Split('\t')[1..];
            else if (line.StartsWith('#') || line.Length == 0 || fields is null) continue;
            else
            {
                var v = line.Split('\t');
                rows.Add(fields.Select((f, i) => (f, i)).ToDictionary(p => p.f, p => p.i < v.Length ? v[p.i] : ""));
            }
        }
        return rows;
    }
}
