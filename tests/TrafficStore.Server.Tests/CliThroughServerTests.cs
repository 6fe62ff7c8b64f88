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

    /// <summary>
    /// `export pcap --server` (the server's export.pcap action) of a window holding two captures that overlap in time
    /// (the second shifted by 10 µs) gives the offline export's file byte for byte: frames merged by timestamp.
    /// </summary>
    [Fact]
    public async Task ExportPcapThroughTheServerMergesCapturesByTimestampLikeOffline()
    {
        var dir = TestServer.NewDirectory();
        try
        {
            var shifted = Path.Combine(dir, "shifted.pcap");
            var psi = new System.Diagnostics.ProcessStartInfo("editcap", ["-F", "pcap", "-t", "0.00001", SharedData.Pcap(Http), shifted]);
            using (var editcap = System.Diagnostics.Process.Start(psi)!)
            {
                editcap.WaitForExit();
                Assert.Equal(0, editcap.ExitCode);
            }
            var ingest = Cli("ingest", SharedData.Pcap(Http), shifted, "--store", dir);
            Assert.True(ingest.Code == 0, ingest.Err);
            string[] window = ["--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--format", "pcapng"];
            var offline = Path.Combine(dir, "offline.pcapng");
            var local = Cli(["export", "pcap", .. window, "--store", dir, "-o", offline]);
            Assert.True(local.Code == 0, local.Err);

            await using var s = await TestServer.StartAsync(dir);
            var remote = Path.Combine(dir, "remote.pcapng");
            var export = Cli(["export", "pcap", .. window, "--server", $"grpc://{TestServer.Admin}@{s.Server.Address.Authority}", "-o", remote]);
            Assert.True(export.Code == 0, export.Err);
            Assert.Equal(File.ReadAllBytes(offline), File.ReadAllBytes(remote));

            var times = new List<long>();
            using (var source = TrafficStore.Ingest.Capture.CaptureFile.Open(remote))
            {
                var frame = new TrafficStore.Ingest.Capture.CaptureFrame();
                while (source.TryReadNext(ref frame) == TrafficStore.Ingest.Capture.CaptureReadStatus.Frame) times.Add(frame.TimestampNs);
            }
            Assert.Equal(2 * 207, times.Count);
            Assert.Equal(times.Order(), times);
        }
        finally { Directory.Delete(dir, true); }
    }
}
