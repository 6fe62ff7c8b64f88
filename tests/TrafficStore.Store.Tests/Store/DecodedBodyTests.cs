using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// A content-encoded body's decoded form is stored only as its codings (body_decoded_from) and decoded again
/// on read: payloads queries return what the parser produced, also when body_decoded alone is selected.
/// </summary>
public class DecodedBodyTests
{
    [Theory]
    [InlineData("http11-chunked-gzip-multi-conn.pcap")]
    [InlineData("mixed-large-many-protocols.pcap")]
    public async Task QueriesReturnTheParsersDecodedBodies(string capture)
    {
        var path = Pcap(capture);
        var http = new ListSink<HttpExchange>();
        var set = new ProtocolSet(http, new ListSink<DnsTransaction>(), new ListSink<TlsHandshake>());
        using (var source = CaptureFile.Open(path))
            new IngestPipeline(new ListSink<ConnectionRecord>(), set.StreamProtocols, set.DatagramProtocols).Run(source);
        var expected = new Dictionary<(long, string), byte[]?>();
        foreach (var x in http.Rows)
        {
            expected[(x.ExchangeId, "request")] = x.RequestBodyDecoded;
            expected[(x.ExchangeId, "response")] = x.ResponseBodyDecoded;
        }
        Assert.Contains(expected.Values, v => v is not null);

        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(path);
        await db.Engine.FlushAsync();

        // Stored: derived rows keep no decoded bytes.
        int derived = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Payloads).Select("body_decoded", "body_decoded_from")))
            for (int i = 0; i < b.Length; i++)
                if (!b.Column(1).IsNull(i)) { derived++; Assert.True(b.Column(0).IsNull(i)); }
        Assert.True(derived > 0);

        await using var client = new LocalTrafficClient(db);
        foreach (var query in new[] { "payloads", "payloads select exchange_id, kind, body_decoded" })
        {
            var result = await client.QueryAsync(query);
            int rows = 0;
            await foreach (var b in result.Batches)
            {
                var id = (Int64Array)b.Column("exchange_id");
                var kind = (StringArray)b.Column("kind");
                var decoded = (BinaryArray)b.Column("body_decoded");
                for (int i = 0; i < b.Length; i++, rows++)
                {
                    var want = expected[(StoreIds.LocalOf(id.GetValue(i)!.Value), kind.GetString(i))];
                    Assert.Equal(want, decoded.IsNull(i) ? null : decoded.GetBytes(i).ToArray());
                }
                if (query.Contains("select")) Assert.Equal(["exchange_id", "kind", "body_decoded"], b.Schema.FieldsList.Select(f => f.Name));
            }
            Assert.True(rows > 0);
        }
    }
}
