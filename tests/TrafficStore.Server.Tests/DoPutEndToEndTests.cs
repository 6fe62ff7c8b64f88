using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Grpc.Core;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

/// <summary>
/// A node agent's store (corpus captures through CaptureIngestor) shipped to the server with DoPut,
/// then read back with the stock Flight client and checked against tshark's oracle.
/// </summary>
public sealed class DoPutFixture : IAsyncLifetime
{
    public static readonly string[] Captures = ["http11-pipelined-keepalive.pcap", "http11-get-simple.pcap", "tcp-fast-retransmit-rst.pcap", "grpc-unary-h2c.pcapng"];

    public TestServer Server { get; private set; } = null!;
    public Dictionary<string, long> CaptureIds { get; } = new();
    public Dictionary<string, long> AgentRows { get; } = new();
    public Dictionary<string, long> AckedRows { get; } = new();

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        var agentDir = TestServer.NewDirectory();
        try
        {
            await using (var agent = TrafficDatabase.Open(agentDir))
            {
                var ingestor = new CaptureIngestor(agent);
                foreach (var name in Captures)
                {
                    var summary = await ingestor.IngestFileAsync(SharedData.Pcap(name));
                    Assert.True(summary.Complete, $"{name}: {summary.Error}");
                    CaptureIds[name] = summary.CaptureId;
                }
                foreach (var table in agent.Engine.TableNames)
                {
                    var batches = new List<RecordBatch>();
                    await foreach (var b in agent.Engine.QueryAsync(new QuerySpec(table) { MaxBatchRows = 500 })) batches.Add(b);
                    AgentRows[table] = batches.Sum(b => b.Length);
                    if (batches.Count == 0) continue;
                    AckedRows[table] = await PutAsync(table, batches);
                }
            }
        }
        finally { Directory.Delete(agentDir, true); }
    }

    private async Task<long> PutAsync(string table, List<RecordBatch> batches)
    {
        var call = await Server.Client.StartPut(FlightDescriptor.CreatePathDescriptor(table), batches[0].Schema, TestServer.Auth(TestServer.Writer));
        long acked = 0;
        var reader = Task.Run(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
                acked += (long)JsonNode.Parse(call.ResponseStream.Current.ApplicationMetadata.ToStringUtf8())!["rows"]!;
        });
        foreach (var b in batches) await call.RequestStream.WriteAsync(b);
        await call.RequestStream.CompleteAsync();
        await reader;
        return acked;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public class DoPutEndToEndTests : IClassFixture<DoPutFixture>
{
    private readonly DoPutFixture _f;
    private TestServer S => _f.Server;

    public DoPutEndToEndTests(DoPutFixture f) => _f = f;

    [Fact]
    public void EveryShippedRowIsAcknowledged()
    {
        Assert.True(_f.AgentRows[TrafficTables.Connections] > 0);
        foreach (var (table, rows) in _f.AgentRows.Where(p => p.Value > 0 && p.Key != TrafficTables.CaptureStats))
            Assert.Equal(rows, _f.AckedRows[table]);
    }

    public static TheoryData<string> Captures() => new(DoPutFixture.Captures);

    [Theory]
    [MemberData(nameof(Captures))]
    public async Task TcpConnectionsMatchTheOracle(string capture)
    {
        var rows = await S.GetAsync($"connections where capture_id={_f.CaptureIds[capture]} and transport=tcp");
        var expected = OracleFile.Section(capture, "tcp").Rows
            .Select(r => $"{r["stream"]}|{r["client_ip"]}|{r["client_port"]}|{r["pkts_c2s"]}|{r["pkts_s2c"]}|{r["bytes_c2s"]}|{r["bytes_s2c"]}").Order().ToList();
        var actual = rows.Tuples("stream", "client_ip", "client_port", "pkts_c2s", "pkts_s2c", "bytes_c2s", "bytes_s2c").Order().ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public async Task HttpExchangesMatchTheOracle(string capture)
    {
        var expected = OracleFile.Section(capture, "http").Rows
            .Select(r => $"{r["stream"]}|{r["method"]}|{r["uri"]}|{r["status"]}").Order().ToList();
        var json = $$"""{"table":"http","where":{"capture_id":{{_f.CaptureIds[capture]}}},"select":["stream","method","uri","status"]}""";
        var rows = await S.GetAsync(json);
        Assert.Equal(["stream", "method", "uri", "status"], rows.Schema.FieldsList.Select(f => f.Name));
        Assert.Equal(expected, rows.Tuples("stream", "method", "uri", "status").Order().ToList());
    }

    [Fact]
    public async Task ListFlightsNamesEveryTableWithItsSchema()
    {
        using var call = S.Client.ListFlights(new FlightCriteria(), TestServer.Auth(TestServer.Reader));
        var infos = new List<FlightInfo>();
        while (await call.ResponseStream.MoveNext()) infos.Add(call.ResponseStream.Current);
        Assert.Equal(TrafficTables.Names.Order(), infos.Select(i => i.Descriptor.Paths.Single()).Order());
        foreach (var info in infos)
        {
            var table = TrafficTables.Get(info.Descriptor.Paths.Single());
            Assert.Equal(table.Schema.FieldsList.Select(f => f.Name), info.Schema.FieldsList.Select(f => f.Name));
            Assert.Single(info.Endpoints);
        }
        Assert.Equal(_f.AgentRows[TrafficTables.Http], infos.Single(i => i.Descriptor.Paths.Single() == "http").TotalRecords);
    }

    [Fact]
    public async Task FlightInfoEndpointsTogetherReturnTheWholeQuery()
    {
        // The captures are years apart: the query spans several time partitions.
        const string query = "http select stream, method, uri, status";
        var info = await S.Client.GetInfo(FlightDescriptor.CreateCommandDescriptor(query), TestServer.Auth(TestServer.Reader));
        Assert.True(info.Endpoints.Count >= 3, $"expected one endpoint per partition, got {info.Endpoints.Count}");
        Assert.Equal(["stream", "method", "uri", "status"], info.Schema.FieldsList.Select(f => f.Name));
        Assert.Equal(_f.AgentRows[TrafficTables.Http], info.TotalRecords);

        var whole = await S.GetAsync(query, TestServer.Reader);
        var parts = new List<string>();
        foreach (var endpoint in info.Endpoints)
            parts.AddRange((await S.GetAsync(endpoint.Ticket.Ticket.ToStringUtf8(), TestServer.Reader)).Tuples("stream", "method", "uri", "status"));
        Assert.Equal(_f.AgentRows[TrafficTables.Http], whole.Count);
        Assert.Equal(whole.Tuples("stream", "method", "uri", "status"), parts);

        var path = await S.Client.GetInfo(FlightDescriptor.CreatePathDescriptor("connections"), TestServer.Auth(TestServer.Reader));
        Assert.Equal(TrafficTables.Get("connections").Schema.FieldsList.Count, path.Schema.FieldsList.Count);
        var schema = await S.Client.GetSchema(FlightDescriptor.CreateCommandDescriptor("dns select qname"), TestServer.Auth(TestServer.Reader));
        Assert.Equal(["qname"], schema.FieldsList.Select(f => f.Name));
    }

    [Fact]
    public async Task WholeTableFlightInfoSplitsIntoEndpointsThatFetchInParallel()
    {
        // A path descriptor (the whole table, as a stock client exports it): several endpoints, fetched at once on
        // separate connections, together give every row of the table exactly once.
        var info = await S.Client.GetInfo(FlightDescriptor.CreatePathDescriptor("http"), TestServer.Auth(TestServer.Reader));
        Assert.True(info.Endpoints.Count >= 3, $"expected one endpoint per partition, got {info.Endpoints.Count}");
        var whole = await S.GetAsync("http", TestServer.Reader);
        var parts = await Task.WhenAll(info.Endpoints.Select(e => Task.Run(() => S.GetAsync(e.Ticket.Ticket.ToStringUtf8(), TestServer.Reader))));
        Assert.Equal(_f.AgentRows[TrafficTables.Http], whole.Count);
        Assert.Equal(whole.Tuples("stream", "method", "uri", "status").Order(), parts.SelectMany(p => p.Tuples("stream", "method", "uri", "status")).Order());
    }

    [Theory]
    [InlineData("http where", "")]
    [InlineData("http where status>>5", "")]
    [InlineData("""{"table":"http","bogus":1}""", "bogus")]
    [InlineData("""{"table":"http","from":"-1h","as_of":"-5m"}""", "as_of")]
    [InlineData("http select no_such_column", "no_such_column")]
    [InlineData("http order by status", "needs a limit")]
    [InlineData("{not json", "JSON")]
    [InlineData("", "empty")]
    public async Task MalformedTicketsAreInvalidArgument(string ticket, string mentions)
    {
        var e = await Assert.ThrowsAsync<RpcException>(() => S.GetAsync(ticket));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(mentions, e.Status.Detail);
        var info = await Assert.ThrowsAsync<RpcException>(async () => await S.Client.GetInfo(FlightDescriptor.CreateCommandDescriptor(ticket), TestServer.Auth(TestServer.Admin)));
        Assert.Equal(StatusCode.InvalidArgument, info.StatusCode);
    }

    [Fact]
    public async Task BinaryTicketsUnknownTablesAndActionsAreRefused()
    {
        using (var call = S.Client.GetStream(new FlightTicket(new byte[] { 0xff, 0xfe, 0x00, 0x80 }), TestServer.Auth(TestServer.Admin)))
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext());
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Contains("UTF-8", e.Status.Detail);
        }
        var unknown = await Assert.ThrowsAsync<RpcException>(() => S.GetAsync("flows where port=80"));
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("flows", unknown.Status.Detail);
        var path = await Assert.ThrowsAsync<RpcException>(async () => await S.Client.GetInfo(FlightDescriptor.CreatePathDescriptor("nope"), TestServer.Auth(TestServer.Admin)));
        Assert.Equal(StatusCode.NotFound, path.StatusCode);
        var action = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("drop.everything", ""));
        Assert.Equal(StatusCode.InvalidArgument, action.StatusCode);
        var body = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("retention.set", """{"global":{"max_age_seconds":-1}}"""));
        Assert.Equal(StatusCode.InvalidArgument, body.StatusCode);
        var export = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("export.pcap", """{"connection_id":"x"}"""));
        Assert.Equal(StatusCode.InvalidArgument, export.StatusCode);
        // The server is still serving.
        Assert.True((await S.GetAsync("http limit 1")).Count == 1);
    }

    [Fact]
    public async Task DoPutRejectsBadBatchesAndCountsThem()
    {
        var schema = new Schema.Builder().Field(f => f.Name("ts").DataType(Apache.Arrow.Types.StringType.Default)).Build();
        var batch = new RecordBatch(schema, [new StringArray.Builder().Append("yesterday").Build()], 1);
        var e = await PutFails("http", batch);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("ts", e.Status.Detail);

        var nf = await PutFails("flows", batch);
        Assert.Equal(StatusCode.NotFound, nf.StatusCode);
        Assert.Contains("trafficstore_dropped_input_rows_total 1", S.Server.Metrics.Render(null));
    }

    /// <summary>
    /// A put the server refuses: the status reaches whichever client step comes after the server
    /// ended the call — the batch write when it refused on the descriptor alone, else the response.
    /// A write the refusal overtook fails as Cancelled unless grpc-dotnet already read the call's status (under load it
    /// often has not): the call's status is then read from the response.
    /// </summary>
    private async Task<RpcException> PutFails(string table, RecordBatch batch)
    {
        try
        {
            using var call = S.Client.StartPut(FlightDescriptor.CreatePathDescriptor(table), TestServer.Auth(TestServer.Writer));
            try
            {
                await call.RequestStream.WriteAsync(batch);     // the schema goes with the first batch
                await call.RequestStream.CompleteAsync();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled) { }
            await call.ResponseStream.MoveNext(CancellationToken.None);
        }
        catch (RpcException e)
        {
            return e;
        }
        throw new Xunit.Sdk.XunitException($"the put to '{table}' was accepted");
    }

    [Fact]
    public async Task TokensAreRequiredAndScopesEnforced()
    {
        using (var call = S.Client.GetStream(new FlightTicket("http limit 1"), new Metadata()))
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(async () => await call.ResponseStream.MoveNext())).StatusCode);
        var bad = await Assert.ThrowsAsync<RpcException>(() => S.GetAsync("http limit 1", TestServer.Unknown));
        Assert.Equal(StatusCode.Unauthenticated, bad.StatusCode);
        var writerReads = await Assert.ThrowsAsync<RpcException>(() => S.GetAsync("http limit 1", TestServer.Writer));
        Assert.Equal(StatusCode.PermissionDenied, writerReads.StatusCode);
        var readerAdmin = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("retention.apply", "", TestServer.Reader));
        Assert.Equal(StatusCode.PermissionDenied, readerAdmin.StatusCode);
        var readerExport = await Assert.ThrowsAsync<RpcException>(() => S.ActionAsync("export.pcap", """{"from":0}""", TestServer.Reader));
        Assert.Equal(StatusCode.PermissionDenied, readerExport.StatusCode);
        var readerPut = S.Client.StartPut(FlightDescriptor.CreatePathDescriptor("http"), TestServer.Auth(TestServer.Reader));
        await readerPut.RequestStream.CompleteAsync();
        Assert.Equal(StatusCode.PermissionDenied, (await Assert.ThrowsAsync<RpcException>(async () => await readerPut.ResponseStream.MoveNext(CancellationToken.None))).StatusCode);

        Assert.True(S.Server.Metrics.DeniedTotal >= 6);
        using var http = new HttpClient { BaseAddress = S.Server.OpsAddress };
        var metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("trafficstore_denied_calls_total{method=\"/arrow.flight.protocol.FlightService/DoGet\",code=\"Unauthenticated\"}", metrics);
        Assert.Contains("trafficstore_query_duration_seconds_bucket{le=\"+Inf\"}", metrics);
        Assert.Contains("trafficstore_store_rows{table=\"http\"}", metrics);
        var health = await http.GetAsync("/healthz");
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task AdminActionsAnswerJson()
    {
        var stats = JsonNode.Parse(System.Text.Encoding.UTF8.GetString((await S.ActionAsync("stats", "", TestServer.Reader)).Single()))!;
        Assert.Equal(_f.AgentRows[TrafficTables.Http], (long)stats["engine"]!["tables"]!["http"]!["rows"]!);
        var health = JsonNode.Parse(System.Text.Encoding.UTF8.GetString((await S.ActionAsync("health", "", TestServer.Reader)).Single()))!;
        Assert.True((bool)health["healthy"]!);
        using var call = S.Client.ListActions(TestServer.Auth(TestServer.Reader));
        var names = new List<string>();
        while (await call.ResponseStream.MoveNext()) names.Add(call.ResponseStream.Current.Type);
        Assert.Equal(["health", "stats", "retention.list", "retention.set", "retention.apply", "export.pcap", "payload.get"], names);
    }
}
