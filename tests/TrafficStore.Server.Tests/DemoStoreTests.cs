using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using TrafficStore.Server.Client;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Tests;

/// <summary>Time travel, namespace scoping, redaction, payloads and pcap export on the generator's demo capture.</summary>
public class DemoStoreTests : IClassFixture<DemoFixture>
{
    private readonly DemoFixture _f;
    private TestServer S => _f.Server;

    public DemoStoreTests(DemoFixture f) => _f = f;

    private sealed record StreamSpan(long Stream, long First, long Last, string Client, long ClientPort);

    private List<StreamSpan> Streams() => _f.Packets.GroupBy(p => p.Stream).Select(g =>
    {
        var first = g.MinBy(p => p.TimeNs);
        return new StreamSpan(g.Key, first.TimeNs, g.Max(p => p.TimeNs), first.Source, first.SourcePort);
    }).ToList();

    private static string Seconds(long ns) =>
        (ns / 1_000_000_000).ToString(CultureInfo.InvariantCulture) + "." + (ns % 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture);

    [Fact]
    public async Task ConnectionsAsOfCarryTheirCountersAsOfThatInstant()
    {
        // The generator's long-lived connection (a Prometheus scrape over the whole range), found from tshark's packets.
        var streams = Streams();
        var longLived = streams.MaxBy(s => s.Last - s.First)!;
        long t = longLived.First + (longLived.Last - longLived.First) / 2;
        var rows = await S.GetAsync($"connections as of {Seconds(t)} where transport=tcp select stream, pkts_c2s, pkts_s2c");

        // Open at t: first <= t <= last (tshark's first and last frame of the stream).
        var expectedOpen = streams.Where(s => s.First <= t && t <= s.Last).Select(s => s.Stream.ToString(CultureInfo.InvariantCulture)).Order().ToList();
        Assert.Contains(longLived.Stream.ToString(CultureInfo.InvariantCulture), expectedOpen);
        Assert.Equal(expectedOpen, rows.Column("stream").Select(v => v!).Order().ToList());

        // Counters as of t: the timeline is exact to the second, so the packets before the end of t's second.
        long endOfSecond = (t / 1_000_000_000 + 1) * 1_000_000_000;
        var packets = _f.Packets.Where(p => p.Stream == longLived.Stream && p.TimeNs < endOfSecond).ToList();
        long c2s = packets.Count(p => p.Source == longLived.Client && p.SourcePort == longLived.ClientPort);
        long s2c = packets.Count - c2s;
        var row = rows.Tuples("stream", "pkts_c2s", "pkts_s2c").Single(r => r.StartsWith(longLived.Stream + "|", StringComparison.Ordinal));
        Assert.Equal($"{longLived.Stream}|{c2s}|{s2c}", row);
        long total = _f.Packets.Count(p => p.Stream == longLived.Stream);
        Assert.True(c2s + s2c < total, "as of the middle of the connection, fewer packets than in the whole connection");
    }

    [Fact]
    public async Task NamespaceTokensSeeOnlyTheirNamespaces()
    {
        var all = await S.GetAsync("http select client_namespace, server_namespace", TestServer.Admin);
        var shop = await S.GetAsync("http select client_namespace, server_namespace", TestServer.Shop);
        Assert.True(shop.Count > 0);
        Assert.True(shop.Count < all.Count);
        var expected = all.Tuples("client_namespace", "server_namespace").Where(r => r.Split('|').Contains("shop")).Order().ToList();
        Assert.Equal(expected, shop.Tuples("client_namespace", "server_namespace").Order().ToList());

        const string elsewhere = "http where client_namespace!=shop and server_namespace!=shop";
        Assert.True((await S.GetAsync(elsewhere, TestServer.Admin)).Count > 0);
        Assert.Equal(0, (await S.GetAsync(elsewhere, TestServer.Shop)).Count);
        // Raw frames: those of connections the token's namespaces own (owner_namespace), no others.
        var shopFrames = await S.GetAsync("packets select owner_namespace", TestServer.Shop);
        var allFrames = await S.GetAsync("packets select owner_namespace", TestServer.Admin);
        Assert.True(shopFrames.Count > 0);
        Assert.Equal(allFrames.Column("owner_namespace").Count(n => n == "shop"), shopFrames.Count);
        Assert.All(shopFrames.Column("owner_namespace"), n => Assert.Equal("shop", n));
        var capture = await Assert.ThrowsAsync<RpcException>(() => S.GetAsync("capture_stats", TestServer.Shop));
        Assert.Equal(StatusCode.PermissionDenied, capture.StatusCode);
    }

    [Fact]
    public async Task PayloadBodiesAndSecretsAreRedactedWithoutThePayloadScope()
    {
        var admin = await S.GetAsync("payloads select exchange_id, headers, body", TestServer.Admin);
        var reader = await S.GetAsync("payloads select exchange_id, headers, body", TestServer.Reader);
        Assert.Equal(admin.Count, reader.Count);

        var adminHeaders = admin.Column("headers");
        Assert.Contains(adminHeaders, h => h is not null && h.Contains("Authorization: Bearer ", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(admin.Column("body"), b => b is not null && Encoding.UTF8.GetString(Convert.FromBase64String(b)).Contains("4111 1111 1111 1111"));

        Assert.All(reader.Column("body"), b => Assert.Null(b));

        // Raw frames hold the same bodies and headers: their bytes are withheld too, their metadata kept.
        var adminFrames = await S.GetAsync("packets select frame, orig_len, data limit 200", TestServer.Admin);
        var readerFrames = await S.GetAsync("packets select frame, orig_len, data limit 200", TestServer.Reader);
        Assert.All(adminFrames.Column("data"), d => Assert.NotNull(d));
        Assert.All(readerFrames.Column("data"), d => Assert.Null(d));
        Assert.Equal(adminFrames.Column("orig_len"), readerFrames.Column("orig_len"));
        var readerHeaders = reader.Column("headers");
        static IEnumerable<string> Sensitive(string? headers) => (headers ?? "").Split('\n')
            .Where(l => l.StartsWith("authorization:", StringComparison.OrdinalIgnoreCase) || l.StartsWith("cookie:", StringComparison.OrdinalIgnoreCase) || l.StartsWith("set-cookie:", StringComparison.OrdinalIgnoreCase));
        Assert.All(readerHeaders.SelectMany(Sensitive), l => Assert.EndsWith(": [redacted]", l.TrimEnd('\r')));
        Assert.Contains(readerHeaders, h => h is not null && h.Contains("Authorization: [redacted]", StringComparison.OrdinalIgnoreCase));

        // payload.get: the exchange carrying the card number.
        var ids = admin.Column("exchange_id");
        var bodies = admin.Column("body");
        var exchange = ids[bodies.FindIndex(b => b is not null && Encoding.UTF8.GetString(Convert.FromBase64String(b)).Contains("4111 1111 1111 1111"))]!;
        var full = JsonNode.Parse((await S.ActionAsync("payload.get", $$"""{"exchange_id":{{exchange}}}""", TestServer.Admin)).Single())!.AsArray();
        Assert.Contains(full, m => m!["body"] is { } b && Encoding.UTF8.GetString(Convert.FromBase64String((string)b!)).Contains("4111 1111 1111 1111"));
        var redacted = JsonNode.Parse((await S.ActionAsync("payload.get", $$"""{"exchange_id":{{exchange}}}""", TestServer.Reader)).Single())!.AsArray();
        Assert.Equal(full.Count, redacted.Count);
        Assert.All(redacted, m => { Assert.Null(m!["body"]); Assert.True((bool)m["redacted"]!); });
        Assert.Contains(redacted, m => ((string)m!["headers"]!).Contains("Authorization: [redacted]", StringComparison.OrdinalIgnoreCase));
        var missing = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("payload.get", """{"exchange_id":1}""", TestServer.Admin));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task PcapExportOfAConnectionHoldsItsFramesInChunks()
    {
        var longLived = Streams().MaxBy(s => s.Last - s.First)!;
        var id = (await S.GetAsync($"connections where stream={longLived.Stream} and transport=tcp select connection_id")).Column("connection_id").Single()!;
        var chunks = await S.ActionAsync("export.pcap", $$"""{"connection_id":{{id}}}""", TestServer.Admin);
        Assert.All(chunks, c => Assert.True(c.Length <= Flight.TrafficFlightServer.PcapChunkBytes));
        var pcap = chunks.SelectMany(c => c).ToArray();
        var path = Path.Combine(S.Directory, "export-" + id + ".pcap");
        await File.WriteAllBytesAsync(path, pcap);
        // tshark reads the export back: the stream's frames, all of them.
        var psi = new System.Diagnostics.ProcessStartInfo("tshark", ["-n", "-r", path, "-T", "fields", "-e", "frame.time_epoch"]) { RedirectStandardOutput = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var times = (await p.StandardOutput.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(DemoFixture.EpochNs).ToList();
        await p.WaitForExitAsync();
        Assert.Equal(_f.Packets.Where(x => x.Stream == longLived.Stream).Select(x => x.TimeNs).Order().ToList(), times.Order().ToList());

        await using var client = new FlightTrafficClient(S.Server.Address, TestServer.Admin);
        using var viaClient = new MemoryStream();
        var summary = await client.ExportPcapAsync(new PcapExportRequest { ConnectionId = long.Parse(id, CultureInfo.InvariantCulture) }, viaClient);
        Assert.Equal(pcap, viaClient.ToArray());
        Assert.Equal(times.Count, summary.Frames);
        Assert.Equal(1, summary.LinkType);
    }

    [Fact]
    public async Task FlightTrafficClientAnswersLikeTheLocalClient()
    {
        await using var remote = new FlightTrafficClient(S.Server.Address, TestServer.Admin);
        const string query = "dns where rcode_name=NXDOMAIN select qname, rcode_name";
        var local = await S.Local.QueryAsync(query);
        var expected = new List<string>();
        await foreach (var b in local.Batches) expected.AddRange(new QueryRows(local.Schema, [b]).Tuples("qname", "rcode_name"));
        var result = await remote.QueryAsync(query);
        var actual = new List<string>();
        await foreach (var b in result.Batches) actual.AddRange(new QueryRows(result.Schema, [b]).Tuples("qname", "rcode_name"));
        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);

        var bad = await Assert.ThrowsAsync<QueryException>(() => remote.QueryAsync("dns where qname ~ x"));
        Assert.False(string.IsNullOrWhiteSpace(bad.Message));

        var stats = await remote.GetStatsAsync();
        Assert.Equal(S.Database.Engine.GetStats().Tables["dns"].Rows, stats.Engine.Tables["dns"].Rows);

        var before = await remote.GetRetentionPolicyAsync();
        var policy = new TrafficStore.Engine.Retention.RetentionPolicy
        {
            Global = new(MaxAge: TimeSpan.FromDays(3650)),
            Namespaces = new Dictionary<string, TrafficStore.Engine.Retention.RetentionLimits> { ["kube-system"] = new(MaxAge: TimeSpan.FromDays(3650)) },
        };
        await remote.SetRetentionPolicyAsync(policy);
        var after = await remote.GetRetentionPolicyAsync();
        Assert.Equal(TimeSpan.FromDays(3650), after.Global.MaxAge);
        Assert.Equal(TimeSpan.FromDays(3650), after.Namespaces["kube-system"].MaxAge);
        Assert.Equal(S.Database.Engine.RetentionPolicy.Global, after.Global);
        var report = await remote.ApplyRetentionAsync();
        Assert.Empty(report.Actions); // nothing is ten years old
        await remote.SetRetentionPolicyAsync(before);

        await using var reader = new FlightTrafficClient(S.Server.Address, TestServer.Reader);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => reader.ApplyRetentionAsync());
        var payload = await reader.GetPayloadAsync(1);
        Assert.Empty(payload);
    }

    [Fact]
    public async Task ArrowIpcExportReadsBackTheSameRowsInAnIndependentReader()
    {
        // A stock Flight client's result written as an Arrow IPC file, then read by apache-arrow (JS).
        var columns = new[] { "connection_id", "stream", "method", "uri", "status", "server_namespace", "h2_stream", "req_body" };
        var rows = await S.GetAsync("http select " + string.Join(", ", columns), TestServer.Admin);
        Assert.True(rows.Count > 100);
        var path = Path.Combine(S.Directory, "http-export.arrow");
        await using (var file = File.Create(path))
        using (var writer = new Apache.Arrow.Ipc.ArrowFileWriter(file, rows.Schema))
        {
            foreach (var b in rows.Batches) await writer.WriteRecordBatchAsync(b);
            await writer.WriteEndAsync();
        }
        var (fields, read) = await NodeArrowReader.ReadAsync(path);
        Assert.Equal(columns, fields);
        var expected = rows.Tuples(columns);
        var actual = read.Select(r => string.Join("|", r.Select(v => v ?? ""))).ToList();
        Assert.Equal(expected, actual);
        Assert.Contains(read, r => r[6] is null); // nulls survive (h2_stream of HTTP/1.x rows)
        Assert.Contains(read, r => r[6] is not null);
    }
}
