using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Google.Protobuf;
using Grpc.Core;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

/// <summary>
/// Exactly-once DoPut (docs/server.md): a batch whose app_metadata names its agent and batch number is stored
/// once however often it comes (the agent resends when it lost the PutResult), across a server restart and a
/// server crash after the WAL fsync; the resend is acknowledged again and counted in /metrics. A DoPut without
/// that identity (stock clients, older agents) is stored every time, as before.
/// </summary>
public sealed class ExactlyOnceDoPutTests
{
    private const string Source = "exactly-once-feed";

    private static RecordBatch Feed(int first, int rows) => CaptureStatsFeed.Rows(Source, 5_000, first, rows);

    /// <summary>One DoPut stream of <paramref name="messages"/>; the PutResults' app metadata as JSON.</summary>
    private static async Task<List<JsonObject>> PutAsync(TestServer server, params (RecordBatch Batch, ByteString? Metadata)[] messages)
    {
        var call = await server.Client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.CaptureStats), messages[0].Batch.Schema, TestServer.Auth(TestServer.Writer));
        var results = new List<JsonObject>();
        foreach (var (batch, metadata) in messages)
        {
            if (metadata is null) await call.RequestStream.WriteAsync(batch);
            else await call.RequestStream.WriteAsync(batch, metadata);
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            results.Add((JsonObject)JsonNode.Parse(call.ResponseStream.Current.ApplicationMetadata.ToStringUtf8())!);
        }
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
        return results;
    }

    private static async Task<List<long>> StoredFrames(TestServer server) =>
        (await server.GetAsync($"capture_stats where source='{Source}'")).Column("frames").Select(v => long.Parse(v!)).Order().ToList();

    private static ByteString Id(long batch, long firstRow = 0) => DeliveryMetadata.Encode("agent-7f3c", batch, firstRow);

    [Fact]
    public async Task ABatchResentWithItsIdentity_IsStoredOnce_AcknowledgedAgain_AndCounted()
    {
        await using var server = await TestServer.StartAsync();
        var first = await PutAsync(server, (Feed(0, 4), Id(1)), (Feed(4, 4), Id(2)));
        Assert.Equal([4, 4], first.Select(r => (int)r["rows"]!));
        Assert.Equal([0, 0], first.Select(r => (int)r["duplicate_rows"]!));
        // The agent lost the second PutResult: it resends batch 2, then ships batch 3 in the same stream.
        var resent = await PutAsync(server, (Feed(4, 4), Id(2)), (Feed(8, 4), Id(3)));
        Assert.Equal((0, 4), ((int)resent[0]["rows"]!, (int)resent[0]["duplicate_rows"]!));
        Assert.Equal((4, 0), ((int)resent[1]["rows"]!, (int)resent[1]["duplicate_rows"]!));
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i), await StoredFrames(server));

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri(server.Server.OpsAddress, "/metrics"));
        Assert.Contains("trafficstore_ingest_duplicate_batches_total 1\n", metrics);
        Assert.Contains("trafficstore_ingest_duplicate_rows_total 4\n", metrics);
    }

    [Fact]
    public async Task WithoutIdentity_EveryCopyIsStored_AsBefore()
    {
        await using var server = await TestServer.StartAsync();
        await PutAsync(server, (Feed(0, 2), null));
        await PutAsync(server, (Feed(0, 2), null));
        // app_metadata of a stock client that is not ours (not JSON, or JSON without agent_id) changes nothing.
        await PutAsync(server, (Feed(0, 2), ByteString.CopyFromUtf8("client-tag-1")));
        await PutAsync(server, (Feed(0, 2), ByteString.CopyFromUtf8("{\"trace\":\"abc\"}")));
        Assert.Equal([0, 0, 0, 0, 1, 1, 1, 1], await StoredFrames(server));
        Assert.Equal(0, server.Server.Metrics.DuplicateRowsTotal);
    }

    [Fact]
    public async Task ARowSliceResentAsTheWholeBatch_StoresOnlyTheMissingRows()
    {
        await using var server = await TestServer.StartAsync();
        var batch = Feed(0, 10);
        await PutAsync(server, (batch.Slice(0, 6), Id(5, 0)));
        var whole = await PutAsync(server, (batch, Id(5, 0)));
        Assert.Equal((4, 6), ((int)whole[0]["rows"]!, (int)whole[0]["duplicate_rows"]!));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), await StoredFrames(server));
    }

    [Fact]
    public async Task TheMarksSurviveAServerRestart_AndACrashAfterTheWalFsync()
    {
        var dir = TestServer.NewDirectory();
        var crashed = dir + "-crashed";
        try
        {
            await using (var server = await TestServer.StartAsync(dir))
            {
                await PutAsync(server, (Feed(0, 3), Id(1)));
                await server.Database.Engine.FlushAsync();      // batch 1 sealed, its WAL file gone
                await PutAsync(server, (Feed(3, 3), Id(2)));   // batch 2 only in the WAL
                CopyDirectory(dir, crashed);                   // the image a kill -9 right after the fsync leaves
            }
            // A clean restart (the store flushed and closed), then the resend of both batches.
            await using (var restarted = await TestServer.StartAsync(dir))
            {
                var again = await PutAsync(restarted, (Feed(0, 3), Id(1)), (Feed(3, 3), Id(2)), (Feed(6, 3), Id(3)));
                Assert.Equal([3, 3, 0], again.Select(r => (int)r["duplicate_rows"]!));
                Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), await StoredFrames(restarted));
            }
            await using (var recovered = await TestServer.StartAsync(crashed))
            {
                var again = await PutAsync(recovered, (Feed(0, 3), Id(1)), (Feed(3, 3), Id(2)), (Feed(6, 3), Id(3)));
                Assert.Equal([3, 3, 0], again.Select(r => (int)r["duplicate_rows"]!));
                Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), await StoredFrames(recovered));
            }
        }
        finally
        {
            foreach (var d in new[] { dir, crashed }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    [Fact]
    public async Task AnInvalidIdentityIsRefused_NotStoredWithoutIt()
    {
        await using var server = await TestServer.StartAsync();
        foreach (var bad in new[] { "{\"agent_id\":\"a b\",\"batch_seq\":1}", "{\"agent_id\":\"a\"}", "{\"agent_id\":\"a\",\"batch_seq\":-1}", "{\"agent_id\":7,\"batch_seq\":1}" })
        {
            var e = await Assert.ThrowsAsync<RpcException>(() => PutAsync(server, (Feed(0, 2), ByteString.CopyFromUtf8(bad))));
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        }
        Assert.Empty(await StoredFrames(server));
    }

    [Fact]
    public async Task HostileIdentities_AreRefusedAsInvalidArgument_NeverAnInternalError()
    {
        // Review: a duplicated key made JsonNode throw ArgumentException (not JsonException), which escaped as
        // Internal; a first_row near 2^63 wrapped the stored row end negative.
        await using var server = await TestServer.StartAsync();
        foreach (var bad in new[]
        {
            "{\"agent_id\":\"a\",\"agent_id\":\"b\",\"batch_seq\":1}",
            "{\"agent_id\":\"a\",\"batch_seq\":1,\"batch_seq\":2}",
            "{\"agent_id\":\"a\",\"batch_seq\":1,\"first_row\":9223372036854775807}",
        })
        {
            var e = await Record.ExceptionAsync(() => PutAsync(server, (Feed(0, 2), ByteString.CopyFromUtf8(bad))));
            Assert.True(e is RpcException { StatusCode: StatusCode.InvalidArgument }, $"{bad}: {e?.GetType().Name} {e?.Message}");
        }
        Assert.Empty(await StoredFrames(server));
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, d)));
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            if (Path.GetFileName(f) != "LOCK") // held by the open engine; a crash leaves it unlocked anyway
                File.Copy(f, Path.Combine(to, Path.GetRelativePath(from, f)));
    }
}
