using System.Globalization;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Ingest.TcpAnalysis;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// Ingest each corpus capture into a store: the stored connections/http/dns/tls rows, rendered as CSV,
/// equal what the pipeline (with the same protocol set) produces for the file, column by column;
/// store-wide ids map back to the per-capture ids; every frame is stored.
/// </summary>
public class RoundTripTests
{
    [Theory]
    [MemberData(nameof(Captures), MemberType = typeof(StoreTestSupport))]
    public async Task StoredTablesEqualThePipelineOutput(string capture)
    {
        var path = Pcap(capture);
        // The pipeline alone.
        var connections = new ListSink<ConnectionRecord>();
        var http = new ListSink<HttpExchange>();
        var dns = new ListSink<DnsTransaction>();
        var tls = new ListSink<TlsHandshake>();
        var set = new ProtocolSet(http, dns, tls);
        IngestResult expected;
        using (var source = CaptureFile.Open(path))
            expected = new IngestPipeline(connections, set.StreamProtocols, set.DatagramProtocols).Run(source);

        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var summary = await new CaptureIngestor(db, new CaptureIngestOptions { BatchRows = 64 }).IngestFileAsync(path);
        Assert.Equal(expected.Frames, summary.Frames);
        Assert.Equal(expected.Error?.ByteOffset, summary.Error?.ByteOffset);

        await Compare(db, summary.CaptureId, TrafficTables.Connections, ConnectionsTable.Definition, connections.Rows, ["connection_id"]);
        await Compare(db, summary.CaptureId, TrafficTables.Http, HttpTable.Definition, http.Rows, ["exchange_id"]);
        await Compare(db, summary.CaptureId, TrafficTables.Dns, DnsTable.Definition, dns.Rows, []);
        await Compare(db, summary.CaptureId, TrafficTables.Tls, TlsTable.Definition, tls.Rows, []);

        var packets = await Rows(db, new QuerySpec(TrafficTables.Packets).Select("frame"));
        Assert.Equal(expected.Frames, packets.Count);
        Assert.Equal(Enumerable.Range(1, (int)expected.Frames).Select(i => i.ToString(CultureInfo.InvariantCulture)),
            packets.Select(p => p["frame"]).OrderBy(long.Parse));

        var stats = await Rows(db, new QuerySpec(TrafficTables.CaptureStats));
        Assert.Equal(new[] { expected.Error is null ? "complete" : "error", "started" }, stats.Select(s => s["state"]).Order(StringComparer.Ordinal));
        Assert.Equal(expected.Frames.ToString(CultureInfo.InvariantCulture), stats.Single(s => s["state"] != "started")["frames"]);
    }

    /// <summary>Every pipeline column compared as CSV text; <paramref name="globalIds"/> are stored store-wide and compared by their per-capture part.</summary>
    private static async Task Compare<T>(TrafficDatabase db, long captureId, string table, TableDefinition<T> definition, IReadOnlyList<T> pipelineRows, string[] globalIds)
    {
        var columns = definition.Columns.Select(c => c.Name).ToList();
        var expected = pipelineRows.Select(r => string.Join(",", definition.Columns.Select(c => TableWriters.CsvField(c.FormatText(r))))).Order(StringComparer.Ordinal).ToList();
        var stored = await Rows(db, new QuerySpec(table));
        foreach (var row in stored)
        {
            Assert.Equal(captureId.ToString(CultureInfo.InvariantCulture), row["capture_id"]);
            foreach (var id in globalIds)
            {
                if (row[id].Length == 0) continue;
                long global = long.Parse(row[id], CultureInfo.InvariantCulture);
                Assert.Equal(captureId, StoreIds.CaptureOf(global));
                row[id] = StoreIds.LocalOf(global).ToString(CultureInfo.InvariantCulture);
            }
        }
        var actual = stored.Select(r => Line(r, columns)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expected, actual);
    }
}

/// <summary>The payloads table: one row per message, linked to its exchange, bodies as the parser produced them.</summary>
public class PayloadTests
{
    [Fact]
    public async Task EveryExchangeHasItsRequestAndResponseBodies()
    {
        var path = Pcap("http11-chunked-gzip-multi-conn.pcap");
        var http = new ListSink<HttpExchange>();
        var set = new ProtocolSet(http, new ListSink<DnsTransaction>(), new ListSink<TlsHandshake>());
        using (var source = CaptureFile.Open(path))
            new IngestPipeline(new ListSink<ConnectionRecord>(), set.StreamProtocols, set.DatagramProtocols).Run(source);
        Assert.NotEmpty(http.Rows);

        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var summary = await new CaptureIngestor(db).IngestFileAsync(path);
        await using var client = new TrafficStore.Store.Client.LocalTrafficClient(db);
        foreach (var x in http.Rows)
        {
            var messages = await client.GetPayloadAsync(StoreIds.Global(summary.CaptureId, x.ExchangeId));
            var response = messages.Single(m => m.Kind == "response");
            Assert.Equal(x.ResponseBody ?? [], response.Body.ToArray());
            Assert.Equal(x.ResponseBodyDecoded, response.DecodedBody?.ToArray());
            Assert.StartsWith($"{x.Protocol} {x.Status}", response.Headers);
            var request = messages.Single(m => m.Kind == "request");
            Assert.StartsWith($"{x.Method} {x.Uri} ", request.Headers);
            Assert.Equal(StoreIds.Global(summary.CaptureId, x.ConnectionId), request.ConnectionId);
        }
    }

    /// <summary>
    /// The bulk load (the default) and WAL appends store the same rows for every table; the bulk load's
    /// acknowledgements add up to everything the summary reports, and its rows reach no WAL record.
    /// </summary>
    [Fact]
    public async Task BulkLoadStoresWhatWalAppendsStore()
    {
        var path = Pcap("http11-chunked-gzip-multi-conn.pcap");
        var stored = new List<Dictionary<string, List<string>>>();
        foreach (bool bulk in new[] { true, false })
        {
            using var dir = new TempDir();
            await using var db = OpenDatabase(dir.Path);
            var acknowledged = new Dictionary<string, long>();
            var summary = await new CaptureIngestor(db, new CaptureIngestOptions
            {
                BulkLoad = bulk,
                BatchRows = 50,
                Acknowledged = a => { lock (acknowledged) acknowledged[a.Table] = a.Rows; },
            }).IngestFileAsync(path);
            long walCommits = db.Engine.GetStats().WalCommits;
            if (bulk)
            {
                foreach (var (table, rows) in summary.RowsByTable.Where(kv => kv.Key != TrafficTables.CaptureStats && kv.Value > 0))
                    Assert.Equal(rows, acknowledged.GetValueOrDefault(table));
                Assert.Equal(2, walCommits); // the two capture_stats rows only
            }
            else
            {
                Assert.Empty(acknowledged);
                Assert.True(walCommits > 2, $"{walCommits} WAL commits");
            }
            var tables = new Dictionary<string, List<string>>();
            foreach (var table in TrafficTables.Names.Where(t => t != TrafficTables.CaptureStats))
            {
                var rows = await Rows(db, new QuerySpec(table));
                tables[table] = rows.Select(r => string.Join("\u0001", r.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value))).Order(StringComparer.Ordinal).ToList();
            }
            stored.Add(tables);
        }
        Assert.True(stored[0][TrafficTables.Packets].Count > 0);
        foreach (var table in stored[0].Keys) Assert.Equal(stored[1][table], stored[0][table]);
    }
}
