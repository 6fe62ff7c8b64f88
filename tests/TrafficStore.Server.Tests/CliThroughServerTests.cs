using System.Text.Json.Nodes;
using TrafficStore.Cli;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Server.Tests.Support;

namespace TrafficStore.Server.Tests;

/// <summary>
/// Captures ingested with the CLI (`trafficstore ingest`), the store then served, and read with the
/// stock Flight client and with the CLI's own query/export commands through `--server`.
/// </summary>
public class CliThroughServerTests
{
    private const string Http = "http11-chunked-gzip-multi-conn.pcap";
    private const string Dns = "dns-mixed-types-nxdomain.pcap";

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        // The CLI blocks on async calls internally: run it on the thread pool, away from xunit's context.
        return Task.Run(() =>
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = CliApp.Run(args, stdout, stderr);
            return (code, stdout.ToString(), stderr.ToString());
        }).GetAwaiter().GetResult();
    }

    [Fact]
    public async Task CliIngestedCapturesServeTheOracleRowsToFlightAndCliClients()
    {
        var dir = TestServer.NewDirectory();
        try
        {
            var ingest = Cli("ingest", SharedData.Pcap(Http), SharedData.Pcap(Dns), "--store", dir);
            Assert.True(ingest.Code == 0, ingest.Err);

            await using var s = await TestServer.StartAsync(dir);
            var http = await s.GetAsync("http select stream, method, uri, status", TestServer.Reader);
            var expectedHttp = OracleFile.Section(Http, "http").Rows.Select(r => $"{r["stream"]}|{r["method"]}|{r["uri"]}|{r["status"]}").Order().ToList();
            Assert.NotEmpty(expectedHttp);
            Assert.Equal(expectedHttp, http.Tuples("stream", "method", "uri", "status").Order().ToList());

            var dns = await s.GetAsync("""{"version":1,"table":"dns","select":["qname","qtype_name","rcode_name"]}""", TestServer.Reader);
            var expectedDns = OracleFile.Section(Dns, "dns").Rows.Select(r => $"{r["qname"]}|{r["qtype_name"]}|{r["rcode_name"]}").Order().ToList();
            Assert.Equal(expectedDns, dns.Tuples("qname", "qtype_name", "rcode_name").Order().ToList());

            // The CLI's query command against the server (token in the address).
            var server = $"grpc://{TestServer.Reader}@{s.Server.Address.Authority}";
            var query = Cli("query", "--server", server, "--format", "json", "http select stream, method, uri, status");
            Assert.True(query.Code == 0, query.Err);
            var cliRows = query.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => JsonNode.Parse(l)!.AsObject())
                .Select(o => string.Join("|", new[] { "stream", "method", "uri", "status" }.Select(k => o[k]?.ToString() ?? "")))
                .Order().ToList();
            Assert.Equal(expectedHttp, cliRows);

            var withOption = Cli("query", "--server", $"grpc://{s.Server.Address.Authority}", "--token", TestServer.Reader, "--format", "json", "http select stream");
            Assert.True(withOption.Code == 0, withOption.Err);
            Assert.Equal(expectedHttp.Count, withOption.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

            var bad = Cli("query", "--server", server, "http where status>>1");
            Assert.NotEqual(0, bad.Code);
            Assert.Contains("unknown operator '>>'", bad.Err); // the server's InvalidArgument message
            var denied = Cli("query", "--server", $"grpc://{TestServer.Unknown}@{s.Server.Address.Authority}", "http");
            Assert.NotEqual(0, denied.Code);

            // `export arrow` through the server, read back by the independent reader.
            var arrow = Path.Combine(dir, "dns.arrow");
            var export = Cli("export", "arrow", "--server", server, "--table", "dns", "--select", "qname,qtype_name,rcode_name", "-o", arrow);
            Assert.True(export.Code == 0, export.Err);
            var (fields, rows) = await NodeArrowReader.ReadAsync(arrow);
            Assert.Equal(["qname", "qtype_name", "rcode_name"], fields);
            Assert.Equal(expectedDns, rows.Select(r => string.Join("|", r.Select(v => v ?? ""))).Order().ToList());
        }
        finally { Directory.Delete(dir, true); }
    }
}
