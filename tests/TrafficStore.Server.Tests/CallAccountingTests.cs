using System.Text.RegularExpressions;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

/// <summary>
/// Every refused or failed call is counted under the right status (issue 6: "every denied call is logged and
/// counted"; /metrics with dropped input): requests that are not protobuf (refused before any handler runs), DoPut
/// clients that go away mid-stream (Cancelled, not the client's invalid input), and agents past the store's
/// delivery-source limit (ResourceExhausted, nothing stored). Each test has a server of its own, so counts are exact.
/// </summary>
public sealed class CallAccountingTests
{
    private const string Service = "/arrow.flight.protocol.FlightService/";

    private static async Task<string> MetricsAsync(TestServer server)
    {
        using var http = new HttpClient();
        return await http.GetStringAsync(new Uri(server.Server.OpsAddress, "/metrics"));
    }

    /// <summary>A sample's value, 0 when the series is absent.</summary>
    private static double Sample(string metrics, string name, string labels = "")
    {
        var line = Regex.Match(metrics, "^" + Regex.Escape(name + (labels.Length > 0 ? "{" + labels + "}" : "")) + " (\\S+)$", RegexOptions.Multiline);
        return line.Success ? double.Parse(line.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static string Failed(string method, StatusCode code) => $"method=\"{Service}{method}\",code=\"{code}\"";

    [Fact]
    public async Task RequestsThatAreNotProtobuf_AreCountedOncePerCall_AsInvalidArgument()
    {
        await using var server = await TestServer.StartAsync();
        byte[] garbage = [0xff, 0xff, 0xff, 0xff, 0x0f]; // a varint that never ends
        (string Name, MethodType Type)[] methods =
        [
            ("DoGet", MethodType.ServerStreaming), ("DoAction", MethodType.ServerStreaming), ("ListFlights", MethodType.ServerStreaming),
            ("ListActions", MethodType.ServerStreaming), ("GetFlightInfo", MethodType.Unary), ("GetSchema", MethodType.Unary),
            ("DoPut", MethodType.DuplexStreaming),
        ];
        var invoker = server.Channel.CreateCallInvoker();
        foreach (var (name, type) in methods)
        {
            var e = await Assert.ThrowsAsync<RpcException>(() =>
                RawFlightCall.InvokeAsync(invoker, name, type, new CallOptions(TestServer.Auth(TestServer.Admin)), garbage));
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.StartsWith($"the {name} request is not a Flight", e.Status.Detail, StringComparison.Ordinal);
        }
        var metrics = await MetricsAsync(server);
        foreach (var (name, _) in methods)
            Assert.True(Sample(metrics, "trafficstore_failed_calls_total", Failed(name, StatusCode.InvalidArgument)) == 1, $"{name}:\n{metrics}");
        // Once each: no other failed call was counted.
        Assert.Equal(methods.Length, Regex.Matches(metrics, "^trafficstore_failed_calls_total\\{.*\\} (\\d+)$", RegexOptions.Multiline).Sum(m => int.Parse(m.Groups[1].Value)));
    }

    [Fact]
    public async Task ADoPutClientThatGoesAwayMidStream_IsCancelled_NotInvalidInput_AndItsAcknowledgedBatchStays()
    {
        await using var server = await TestServer.StartAsync();
        var good = Stats(5);
        var (schemaHeader, batchHeader, body) = HostileInputTests.IpcMessages(good);
        var descriptor = FlightDescriptor.CreatePathDescriptor(TrafficTables.CaptureStats);
        var rawPut = RawFlightCall.Method("DoPut", MethodType.DuplexStreaming);

        // The client cancels the call while the server waits for its next message; its connection closes (the channel
        // goes away) while the server waits. (A message cut short inside the gRPC frame arrives as a message that is
        // not protobuf when the frame is complete: that is invalid input, HostileInputTests.)
        foreach (var how in new[] { "cancel", "connection closed" })
        {
            var channel = GrpcChannel.ForAddress(server.Server.Address);
            using var gone = new CancellationTokenSource();
            var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(rawPut, null, new CallOptions(TestServer.Auth(TestServer.Writer), cancellationToken: gone.Token));
            await call.RequestStream.WriteAsync(HostileInputTests.FlightData(descriptor, schemaHeader, null));
            await call.RequestStream.WriteAsync(HostileInputTests.FlightData(null, batchHeader, body));
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None)); // the acknowledgement
            if (how == "cancel") gone.Cancel();
            channel.Dispose();
            call.Dispose();
        }

        // The server sees each going away on its own time: wait for the calls to end (a deadline, not a delay: a loaded
        // CI machine can take seconds).
        string metrics = "";
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (Sample(metrics, "trafficstore_failed_calls_total", Failed("DoPut", StatusCode.Cancelled)) < 2 && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
            metrics = await MetricsAsync(server);
        }
        Assert.True(Sample(metrics, "trafficstore_failed_calls_total", Failed("DoPut", StatusCode.Cancelled)) == 2, metrics);
        Assert.Equal(0, Sample(metrics, "trafficstore_failed_calls_total", Failed("DoPut", StatusCode.InvalidArgument)));
        Assert.Equal(0, Sample(metrics, "trafficstore_failed_calls_total", Failed("DoPut", StatusCode.Internal)));
        Assert.Equal(0, Sample(metrics, "trafficstore_dropped_input_rows_total"));
        Assert.Equal(10, Sample(metrics, "trafficstore_ingest_rows_total"));
        Assert.Equal(10, (await server.GetAsync("capture_stats")).Count);
    }

    [Fact]
    public async Task ANewAgentPastTheDeliverySourceLimit_IsResourceExhausted_CountedAsDroppedInput_AndStoresNothing()
    {
        await using var server = await TestServer.StartAsync(database: new TrafficDatabaseOptions { Engine = o => o with { MaxDeliverySources = 2 } });
        Assert.Equal(5, await PutAsync(server, Stats(5), "agent-one"));
        Assert.Equal(5, await PutAsync(server, Stats(5), "agent-two"));
        var e = await Assert.ThrowsAsync<RpcException>(() => PutAsync(server, Stats(7), "agent-three"));
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("agent-three", e.Status.Detail);
        Assert.Equal(DeliveryMetadata.SourceLimitRefusal, e.Trailers.GetValue(DeliveryMetadata.RefusalTrailer));
        // Known agents go on.
        Assert.Equal(5, await PutAsync(server, Stats(5), "agent-one", batchSeq: 2));

        var metrics = await MetricsAsync(server);
        Assert.Equal(1, Sample(metrics, "trafficstore_ingest_refused_agents_total"));
        Assert.Equal(7, Sample(metrics, "trafficstore_dropped_input_rows_total"));
        Assert.Equal(1, Sample(metrics, "trafficstore_failed_calls_total", Failed("DoPut", StatusCode.ResourceExhausted)));
        Assert.Equal(2, Sample(metrics, "trafficstore_delivery_marks"));
        Assert.Equal(0, Sample(metrics, "trafficstore_delivery_marks_expired_total"));
        Assert.Equal(15, (await server.GetAsync("capture_stats")).Count);
    }

    private static RecordBatch Stats(int rows) => CaptureStatsFeed.Rows("call-accounting", 6_000, 0, rows);

    /// <summary>One DoPut of <paramref name="batch"/> as <paramref name="agent"/>'s batch; the rows the server stored.</summary>
    private static async Task<long> PutAsync(TestServer server, RecordBatch batch, string agent, long batchSeq = 1)
    {
        using var call = await server.Client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.CaptureStats), batch.Schema, TestServer.Auth(TestServer.Writer));
        // A refusal that overtakes the write fails it as Cancelled (grpc-dotnet had not read the status yet): the call's
        // own status, with its trailers, comes with the response below.
        try { await call.RequestStream.WriteAsync(batch, DeliveryMetadata.Encode(agent, batchSeq, 0)); }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled) { }
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        long rows = (long)System.Text.Json.Nodes.JsonNode.Parse(call.ResponseStream.Current.ApplicationMetadata.ToStringUtf8())!["rows"]!;
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
        return rows;
    }
}
