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
using TrafficStore.Ingest.Tables;
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
    [Fact]
    public async Task AStoredDecompressionBombIsNotDecodedPastTheCap()
    {
        // A payloads row a client stored with DoPut: 1 MiB past the cap of zeros gzipped (about 260 kB), named as gzip.
        using var bomb = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(bomb, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            var zeros = new byte[1 << 20];
            for (long written = 0; written <= DecodedBodyDerivation.MaxDecodedBytes; written += zeros.Length) gzip.Write(zeros);
        }
        var dir = Directory.CreateTempSubdirectory("ts-bomb-").FullName;
        try
        {
            await using var db = OpenDatabase(dir);
            var schema = TrafficTables.Get(TrafficTables.Payloads).Schema;
            var ts = new Apache.Arrow.TimestampArray.Builder((Apache.Arrow.Types.TimestampType)schema.GetFieldByName("ts").DataType).Append(DateTimeOffset.UnixEpoch.AddDays(20_000)).Build();
            var batch = new RecordBatch(new Schema([schema.GetFieldByName("ts"), schema.GetFieldByName("body"), schema.GetFieldByName("body_decoded_from")], null),
                [ts, new BinaryArray.Builder().Append(bomb.ToArray().AsSpan()).Build(), new StringArray.Builder().Append("gzip").Build()], 1);
            await db.AppendBatchAsync(TrafficTables.Payloads, batch);
            await using var client = new LocalTrafficClient(db);
            var result = await client.QueryAsync("payloads select body, body_decoded");
            var rows = new List<RecordBatch>();
            await foreach (var b in result.Batches) rows.Add(b);
            Assert.Equal(1, rows.Sum(b => b.Length));
            var decoded = (BinaryArray)rows.Single(b => b.Length > 0).Column("body_decoded");
            Assert.True(decoded.IsNull(0), $"body_decoded came back with {decoded.GetBytes(0).Length:N0} bytes");
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>A client's row naming a decoded length past the read-time cap is refused whole: nothing of the batch is stored.</summary>
    [Theory]
    [InlineData(-1L)]
    [InlineData(1L << 31)]
    public async Task AClientRowPromisingMoreThanTheReadCapIsRefused(long claimed)
    {
        Assert.True(claimed < 0 || claimed > DecodedBodyDerivation.MaxDecodedBytes);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var schema = TrafficTables.Get(TrafficTables.Payloads).Schema;
        var tsType = (Apache.Arrow.Types.TimestampType)schema.GetFieldByName("ts").DataType;
        var gz = Gzip(new byte[4096]);
        var batch = new RecordBatch(new Schema([schema.GetFieldByName("ts"), schema.GetFieldByName("body"), schema.GetFieldByName("body_decoded_from"), schema.GetFieldByName("body_decoded_len")], null),
            [new TimestampArray.Builder(tsType).Append(DateTimeOffset.UnixEpoch.AddDays(20_000)).Append(DateTimeOffset.UnixEpoch.AddDays(20_000)).Build(),
             new BinaryArray.Builder().Append(gz.AsSpan()).Append(gz.AsSpan()).Build(),
             new StringArray.Builder().Append("gzip").Append("gzip").Build(),
             new Int64Array.Builder().Append(4096).Append(claimed).Build()], 2);
        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await db.AppendBatchAsync(TrafficTables.Payloads, batch));
        Assert.Contains("row 1: body_decoded_len", e.Message);
        int stored = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Payloads).Select("body"))) stored += b.Length;
        Assert.Equal(0, stored);
    }

    /// <summary>
    /// A gzip body of <paramref name="members"/> members of 16 MiB of zeros each (a decompression bomb: about 16 kB per
    /// member; RFC 1952 §2.2, a gzip file is a series of members, decoded one after the other).
    /// </summary>
    private static byte[] ZeroBomb(int members)
    {
        var member = Gzip(new byte[16 << 20]);
        var bomb = new byte[member.Length * members];
        for (int i = 0; i < members; i++) member.CopyTo(bomb, i * member.Length);
        return bomb;
    }

    /// <summary>
    /// Ingest: a captured body that inflates past the parser's cap comes with the capped decoded body. Checking whether
    /// the codings give it back must not inflate the whole bomb (it decoded without any cap: gigabytes for a captured
    /// response of a few MB, per message, in the agent or the ingest process).
    /// </summary>
    [Fact]
    public void DerivingTheCodingsNeverInflatesPastTheParsersDecodedBody()
    {
        var bomb = ZeroBomb(40); // 640 MiB decoded
        var capped = new byte[1000]; // what a parser capped at 1000 bytes gives
        var headers = new List<KeyValuePair<string, string>> { new("Content-Encoding", "gzip") };
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Null(DecodedBodyDerivation.Codings(bomb, capped, headers)); // it decodes to more: stored as it is
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 16 << 20, $"{allocated:N0} bytes allocated to check a 1000-byte decoded body");
        // Still derived when it does give the body back.
        var raw = Enumerable.Range(0, 5000).Select(i => (byte)(i % 7)).ToArray();
        Assert.Equal("gzip", DecodedBodyDerivation.Codings(Gzip(raw), raw, headers));
    }

    /// <summary>
    /// Read: a row recording a small decoded length (a client's row; any length passes DoPut's check) over a bomb is
    /// refused once the decoder passes that length, not after inflating the whole body (CPU for every query of the row:
    /// this one inflates to 32 GiB).
    /// </summary>
    [Fact]
    public void ReadingABombStopsOncePastItsRecordedLength()
    {
        var bomb = ZeroBomb(2048);
        // CPU time of this thread, not wall time: inflating the whole bomb takes many CPU seconds; a loaded machine
        // only stretches the wall time of the refusal.
        var cpu = Support.ThreadCpuClock.Measure(() =>
        {
            Assert.Null(DecodedBodyDerivation.Decode(bomb, "gzip", recordedLength: 10, maxUnrecorded: DecodedBodyDerivation.MaxDecodedBytes));
            Assert.Null(DecodedBodyDerivation.Decode(bomb, "gzip", recordedLength: null, maxUnrecorded: 1000));
        });
        Assert.True(cpu < TimeSpan.FromSeconds(2), $"{cpu.TotalSeconds:0.0} CPU seconds to refuse a body past its length");
    }

    private static byte[] Gzip(byte[] raw)
    {
        using var gz = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(raw);
        return gz.ToArray();
    }

    /// <summary>
    /// Ingest ran with a decoded-body cap above the read-time default, and a body decoded past that default was stored
    /// as its codings only: a read must still return it whole. Scaled down: ingest's cap 8000 bytes, the read default
    /// 1000, the body 5000 bytes decoded. Rows that record no length (older stores) keep the default cap.
    /// </summary>
    [Fact]
    public async Task ABodyElidedUnderAHigherIngestCapDecodesWholeOnRead()
    {
        const long ReadDefault = 1000, IngestCap = 8000;
        var raw = new byte[5000];
        new Random(5).NextBytes(raw.AsSpan(0, 2500)); // half random, half zeros: compressible, not trivial
        var gz = Gzip(raw);
        var decoded = ContentDecoder.Decode(gz, ["gzip"], IngestCap); // as the parser decodes under the ingest cap
        Assert.Equal(ContentDecodeStatus.Decoded, decoded.Status);
        var x = new HttpExchange { ExchangeId = 1, ConnectionId = 1, Protocol = "HTTP/1.1", Status = 200, ResponseBody = gz, ResponseBodyDecoded = decoded.Decoded };
        x.ResponseHeaders.Add(new("Content-Encoding", "gzip"));
        var row = PayloadRows.Response(x, DateTimeOffset.UnixEpoch.AddDays(20_000).ToUnixTimeMilliseconds() * 1_000_000)!;
        Assert.Equal(("gzip", 5000L), (row.BodyDecodedFrom, row.BodyDecodedLength));

        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var rows = new ArrowBatchBuilder<Stored<PayloadRow>>(TrafficTables.PayloadsDefinition)
            .Build([new Stored<PayloadRow>(row, 1, new EndpointIdentity(), new EndpointIdentity())]);
        await db.AppendBatchAsync(TrafficTables.Payloads, rows);
        // Rows as a version-2 store (or a client) wrote them: codings, no length; one decodes within the default, one past it.
        var small = Gzip(raw.AsSpan(0, 900).ToArray());
        var schema = TrafficTables.Get(TrafficTables.Payloads).Schema;
        var tsType = (Apache.Arrow.Types.TimestampType)schema.GetFieldByName("ts").DataType;
        var old = new RecordBatch(new Schema([schema.GetFieldByName("ts"), schema.GetFieldByName("exchange_id"), schema.GetFieldByName("body"), schema.GetFieldByName("body_decoded_from")], null),
            [new TimestampArray.Builder(tsType).Append(DateTimeOffset.UnixEpoch.AddDays(20_000).AddSeconds(1)).Append(DateTimeOffset.UnixEpoch.AddDays(20_000).AddSeconds(2)).Build(),
             new Int64Array.Builder().Append(2).Append(3).Build(),
             new BinaryArray.Builder().Append(small.AsSpan()).Append(gz.AsSpan()).Build(),
             new StringArray.Builder().Append("gzip").Append("gzip").Build()], 2);
        await db.AppendBatchAsync(TrafficTables.Payloads, old);
        await db.Engine.FlushAsync();

        var got = new Dictionary<long, byte[]?>();
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Payloads).Select(["exchange_id", "body_decoded", .. DecodedBodyReader.SourceColumns])))
        {
            var filled = DecodedBodyReader.Fill(b, maxUnrecorded: ReadDefault);
            var ids = (Int64Array)filled.Column("exchange_id");
            var values = (BinaryArray)filled.Column("body_decoded");
            for (int i = 0; i < filled.Length; i++) got[StoreIds.LocalOf(ids.GetValue(i)!.Value)] = values.IsNull(i) ? null : values.GetBytes(i).ToArray();
        }
        Assert.Equal(raw, got[1]);                  // recorded length 5000: decoded whole past the read default
        Assert.Equal(raw[..900], got[2]);           // no length, within the default
        Assert.Null(got[3]);                        // no length, past the default: as before

        // A recorded length the body does not decode to (a client's row, or damage) gives nothing, not a partial body.
        Assert.Null(DecodedBodyDerivation.Decode(gz, "gzip", recordedLength: 4999, maxUnrecorded: ReadDefault));
        Assert.Null(DecodedBodyDerivation.Decode(gz, "gzip", recordedLength: 5001, maxUnrecorded: ReadDefault));
        Assert.Equal(raw, DecodedBodyDerivation.Decode(gz, "gzip", recordedLength: 5000, maxUnrecorded: ReadDefault));
    }
}
