using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Google.Protobuf;
using Grpc.Core;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

/// <summary>
/// DoPut over a store whose write-ahead log fails: the batch is answered <c>Internal</c> with no PutResult (the agent
/// must not be told "durable" when it is not: it keeps the batch and resends it), the rows are not stored, and the
/// server goes on answering other calls. The failure is a real one of the engine's WAL: the next log file's name is
/// taken by a directory, so the WAL rotation of a flush fails and the log refuses every append after it.
/// </summary>
public sealed class DoPutWalFailureTests
{
    private const string Source = "wal-failure-feed";

    private static RecordBatch Feed(int first, int rows) => CaptureStatsFeed.Rows(Source, 6_000, first, rows);

    /// <summary>One DoPut of <paramref name="batch"/> as an agent's batch <paramref name="batchSeq"/>: the PutResults it got, and how the call ended.</summary>
    private static async Task<(List<JsonObject> Results, RpcException? Error)> PutAsync(TestServer server, RecordBatch batch, long batchSeq)
    {
        var results = new List<JsonObject>();
        try
        {
            using var call = await server.Client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.CaptureStats), batch.Schema, TestServer.Auth(TestServer.Writer));
            try
            {
                await call.RequestStream.WriteAsync(batch, DeliveryMetadata.Encode("agent-wal-failure", batchSeq, 0));
                await call.RequestStream.CompleteAsync();
            }
            catch (RpcException) { } // the server may end the call before the client finished writing: the responses say why
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
                results.Add((JsonObject)JsonNode.Parse(call.ResponseStream.Current.ApplicationMetadata.ToStringUtf8())!);
            return (results, null);
        }
        catch (RpcException e) { return (results, e); }
    }

    [Fact]
    public async Task AWalFailureIsInternal_NothingIsAcknowledgedOrStored_AndTheServerGoesOn()
    {
        // No background flush or retention: the test's own flush is the one that meets the failure.
        var server = await TestServer.StartAsync(database: new TrafficDatabaseOptions { Engine = o => o with { FlushInterval = null, RetentionInterval = null } });
        string directory = server.Directory;
        try
        {
            var (first, error) = await PutAsync(server, Feed(0, 3), batchSeq: 1);
            Assert.Null(error);
            using var http = new HttpClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(server.Server.OpsAddress, "/healthz"))).StatusCode);
            Assert.Contains("trafficstore_writes_refused 0\n", await http.GetStringAsync(new Uri(server.Server.OpsAddress, "/metrics")));
            long sequence = (long)Assert.Single(first)["sequence"]!;
            Assert.Equal(sequence, server.Database.Engine.GetStats().LastSequence);

            // The WAL file a rotation would start next (named by its first sequence number) cannot be created.
            Directory.CreateDirectory(server.Database.Engine.Layout.WalFile(sequence + 1));
            await Assert.ThrowsAnyAsync<Exception>(() => server.Database.Engine.FlushAsync());

            for (long batch = 2; batch <= 3; batch++)
            {
                var (results, failed) = await PutAsync(server, Feed(10 * (int)batch, 3), batch);
                Assert.Empty(results); // no PutResult: the agent keeps the batch
                Assert.NotNull(failed);
                Assert.Equal(StatusCode.Internal, failed.StatusCode);
                Assert.Contains("write-ahead log", failed.Status.Detail);
            }

            // Other calls are still answered, and only the acknowledged rows are there.
            var stored = await server.GetAsync($"capture_stats where source='{Source}'");
            Assert.Equal(["0", "1", "2"], stored.Column("frames").Order());
            var flights = new List<FlightInfo>();
            using (var list = server.Client.ListFlights(new FlightCriteria(), TestServer.Auth(TestServer.Reader)))
                while (await list.ResponseStream.MoveNext()) flights.Add(list.ResponseStream.Current);
            Assert.Contains(flights, f => f.Descriptor.Paths.SequenceEqual([TrafficTables.CaptureStats]));
            var metrics = await http.GetStringAsync(new Uri(server.Server.OpsAddress, "/metrics"));
            Assert.Contains("trafficstore_writes_refused 1\n", metrics);
            var failedPuts = Regex.Match(metrics, "^trafficstore_failed_calls_total\\{method=\"[^\"]*/DoPut\",code=\"Internal\"\\} (\\d+)$", RegexOptions.Multiline);
            Assert.True(failedPuts.Success, metrics);
            Assert.Equal(2, int.Parse(failedPuts.Groups[1].Value, CultureInfo.InvariantCulture));

            // Health says so, so that a liveness probe restarts the server (reopening the store takes writes again).
            var probe = await http.GetAsync(new Uri(server.Server.OpsAddress, "/healthz"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, probe.StatusCode);
            var body = JsonNode.Parse(await probe.Content.ReadAsStringAsync())!;
            Assert.False((bool)body["healthy"]!);
            Assert.Contains("write-ahead log", (string)body["write_failure"]!);
            Assert.Contains("write-ahead log", server.Database.Engine.Health.WriteFailure);
        }
        finally
        {
            // Closing flushes, which fails the same way (the error goes to the caller after the store is closed).
            try { await server.DisposeAsync(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            try { Directory.Delete(directory, recursive: true); } catch (DirectoryNotFoundException) { }
        }
    }
}
