using TrafficStore.Agent.Spool;
using TrafficStore.Agent.Tests.Support;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// The agent's spool against the real Flight server: batches fed while the server is down wait on
/// disk and arrive, in order, when it is back; an overflowing spool loses the oldest data and says so
/// in a capture_stats row that reaches the server.
/// </summary>
public sealed class AgentSpoolTests : IAsyncLifetime
{
    private const string FeedSource = "spool-test-feed";
    private readonly string _spoolDir = Directory.CreateTempSubdirectory("ts-agent-spool-").FullName;
    private readonly FlightTestServer _server = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try { Directory.Delete(_spoolDir, recursive: true); } catch (IOException) { }
    }

    private AgentOptions Options(long spoolMaxBytes = 64 << 20) => new()
    {
        Server = _server.Address,
        Token = FlightTestServer.Writer,
        Interfaces = [],
        SpoolDirectory = _spoolDir,
        SpoolMaxBytes = spoolMaxBytes,
        NodeName = "spool-node",
        ProcRoot = null,
        FlushInterval = TimeSpan.FromMilliseconds(100),
        StatsInterval = TimeSpan.FromHours(1),
        DrainTimeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>Batch number <paramref name="i"/> of the feed: <paramref name="rows"/> capture_stats rows whose frames column is i.</summary>
    private static Apache.Arrow.RecordBatch FeedBatch(int i, int rows = 3)
    {
        long t0 = 1_700_000_000_000_000_000L;
        var list = Enumerable.Range(0, rows).Select(r => new CaptureStatsRow
        {
            StartedNs = t0 + i * 1000L + r,
            CaptureId = 9_000 + i,
            Source = FeedSource,
            State = "running",
            Frames = i,
            Packets = r,
        }).ToList();
        return new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build(list);
    }

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task ServerStoppedMidRun_NothingAcknowledgedIsLost_AndOrderHolds()
    {
        await _server.StartAsync();
        await using var agent = new NodeAgent(Options());
        var acked = new List<(long Segment, long Offset)>();
        agent.Acknowledged = e => { lock (acked) acked.Add((e.Segment, e.Offset)); };
        Assert.Empty(agent.Start());

        for (int i = 0; i < 10; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
        await WaitUntil(() => agent.Shipper.SentBatches >= 10, TimeSpan.FromSeconds(60), "the first 10 batches to be acknowledged");

        await _server.StopAsync();
        for (int i = 10; i < 20; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
        await WaitUntil(() => agent.Shipper.Failures > 0, TimeSpan.FromSeconds(60), "a failed DoPut while the server is down");
        Assert.True(agent.Spool.PendingBatches >= 10, $"pending {agent.Spool.PendingBatches}");

        await _server.StartAsync();             // same store, same address
        for (int i = 20; i < 30; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
        Assert.True(await agent.StopAsync(), "the spool should drain once the server is back");

        Assert.Equal(0, agent.Spool.DroppedBatches);
        Assert.Equal(0, agent.Spool.PendingBatches);
        // Acknowledged in spool order: (segment, offset) strictly increasing, each batch once.
        Assert.Equal(30, acked.Count);
        for (int k = 1; k < acked.Count; k++) Assert.True(acked[k].CompareTo(acked[k - 1]) > 0, $"ack {k} out of order");

        var rows = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames", "packets");
        var distinct = rows.Select(r => (r["frames"], r["packets"])).Distinct().ToList();
        // Every fed row is on the server (at least once: a batch in flight when the server stopped may come twice).
        Assert.Equal(30 * 3, distinct.Count);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => i.ToString()), distinct.Select(d => d.Item1).Distinct().OrderBy(int.Parse!));
    }

    [Fact]
    public async Task ATinySpoolDropsTheOldestData_AndTheCountedLossReachesTheServer()
    {
        const int fed = 60, rowsPerBatch = 3;
        // The server is down while the feed arrives, and the spool holds only a few batches.
        await using var agent = new NodeAgent(Options(spoolMaxBytes: 16 * 1024));
        Assert.Empty(agent.Start());
        for (int i = 0; i < fed; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i, rowsPerBatch));
        var spool = agent.Spool;
        Assert.True(spool.DroppedBatches > 0, "the spool should have overflowed");

        await _server.StartAsync();
        Assert.True(await agent.StopAsync(), "the spool should drain");
        var dropped = agent.Spool;

        var feed = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames");
        var loss = (await _server.QueryAsync("capture_stats where source='agent:spool-node'")).Rows("agent_dropped_rows", "agent_dropped_batches", "node");
        Assert.NotEmpty(loss);
        long reportedRows = loss.Max(r => long.Parse(r["agent_dropped_rows"]!));
        Assert.Equal("spool-node", loss[0]["node"]);
        Assert.True(reportedRows > 0);
        Assert.Equal(dropped.DroppedRows, reportedRows);

        // Fed rows = rows on the server + fed rows dropped; the survivors are the newest batches.
        long feedRowsDropped = fed * rowsPerBatch - feed.Count;
        Assert.True(feedRowsDropped > 0);
        Assert.True(reportedRows >= feedRowsDropped, $"reported {reportedRows} dropped, {feedRowsDropped} feed rows missing");
        var kept = feed.Select(r => int.Parse(r["frames"]!)).Distinct().OrderBy(x => x).ToList();
        Assert.Equal(Enumerable.Range(fed - kept.Count, kept.Count), kept);
    }

    [Fact]
    public async Task ABatchTheServerRejectsIsSkippedAndCounted_AndTheSpoolGoesOn()
    {
        await _server.StartAsync();
        await using var agent = new NodeAgent(Options());
        Assert.Empty(agent.Start());
        // capture_stats rows sent as 'dns': the server's schema check refuses them (InvalidArgument).
        agent.Enqueue(TrafficTables.Dns, FeedBatch(0, rows: 2));
        agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(1, rows: 2));
        Assert.True(await agent.StopAsync());
        Assert.Equal(1, agent.Shipper.RejectedBatches);
        Assert.Equal(2, agent.Shipper.RejectedRows);
        // The reason names the column the server has not (as an older server refusing a newer agent's column does).
        Assert.Matches(@"^batch for 'dns' rejected: the server has no column '[a-z_]+' \(a server older than this agent: upgrade servers first", agent.Shipper.LastError);
        var feed = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames");
        Assert.Equal(["1", "1"], feed.Select(r => r["frames"]));
    }

    [Theory]
    [InlineData(new byte[] { 0x6e, 0x6f, 0x74, 0x20, 0x61, 0x72, 0x72, 0x6f, 0x77 })]                 // "not arrow"
    [InlineData(new byte[] { 0xff, 0xff, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8 })] // a message header cut short
    public async Task AnUnreadableRecordAfterTheFirstOfAStreamIsRejected_AndTheSpoolGoesOn(byte[] garbage)
    {
        // Review: the first batch of a DoPut stream was guarded against unreadable spool records, the
        // following ones were not: the exception ended the shipping loop for good (nothing shipped after it).
        await _server.StartAsync();
        using var spool = new DiskSpool(_spoolDir, 1L << 30);
        spool.Append(TrafficTables.CaptureStats, 2, Spool.ArrowIpc.Serialize(FeedBatch(0, rows: 2)));
        spool.Append(TrafficTables.CaptureStats, 5, garbage);
        spool.Append(TrafficTables.CaptureStats, 2, Spool.ArrowIpc.Serialize(FeedBatch(2, rows: 2)));
        using var shipper = new Shipping.FlightShipper(spool, _server.Address, FlightTestServer.Writer);
        Assert.True(await shipper.DrainAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, shipper.Statistics.RejectedBatches);
        Assert.Equal(5, shipper.Statistics.RejectedRows);
        var feed = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames");
        Assert.Equal(["0", "0", "2", "2"], feed.Select(r => r["frames"]).Order());
    }

    [Fact]
    public async Task AFailedSpoolWriteIsCountedAsDropped_AndTheNextBatchesAreSpooledAndShipped()
    {
        await _server.StartAsync();
        await using var agent = new NodeAgent(Options());
        var spool = agent.SpoolForTests;
        var write = spool.WriteAndSync;
        // The first write fails; the loss record that follows it is written.
        spool.WriteAndSync = (f, bytes) =>
        {
            spool.WriteAndSync = write;
            throw new IOException("No space left on device");
        };
        agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(0, rows: 5));    // must not throw
        Assert.Equal((1L, 5L), (agent.Spool.DroppedBatches, agent.Spool.DroppedRows));
        Assert.Empty(agent.Start());
        agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(1, rows: 2));
        Assert.True(await agent.StopAsync(), "the spool should drain");
        Assert.Equal(0, agent.Spool.PendingBatches);

        var feed = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames");
        Assert.Equal(["1", "1"], feed.Select(r => r["frames"]));
        var loss = (await _server.QueryAsync("capture_stats where source='agent:spool-node'")).Rows("agent_dropped_rows", "agent_dropped_batches");
        Assert.NotEmpty(loss);
        Assert.Equal(5, loss.Max(r => long.Parse(r["agent_dropped_rows"]!)));
        Assert.Equal(1, loss.Max(r => long.Parse(r["agent_dropped_batches"]!)));
    }

    [Fact]
    public async Task MetricsAndHealthAreServedOverHttp()
    {
        await _server.StartAsync();
        await using var agent = new NodeAgent(Options());
        Assert.Empty(agent.Start());
        agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(0, rows: 4));
        await WaitUntil(() => agent.Shipper.SentRows >= 4, TimeSpan.FromSeconds(60), "the batch to be acknowledged");
        var (endpoint, port) = StartMetricsEndpoint(agent);
        await using var _ = endpoint;
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Contains("# TYPE trafficstore_agent_dropped_rows_total counter", metrics);
        Assert.Contains("trafficstore_agent_rows_total{table=\"capture_stats\"} 4", metrics);
        Assert.Contains("trafficstore_agent_acked_rows_total 4", metrics);
        Assert.Contains("trafficstore_agent_server_connected 1", metrics);
        var health = await http.GetAsync($"http://127.0.0.1:{port}/healthz");
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("ok\n", await health.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// HttpListener cannot bind port 0, so the test picks a free port and binds it; another process may take the port
    /// in between (seen once under a loaded full-suite run: "address already in use"), so a few fresh ports are tried.
    /// </summary>
    private static (Observability.MetricsEndpoint Endpoint, int Port) StartMetricsEndpoint(NodeAgent agent)
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = FlightTestServer.FreeTcpPort();
            try { return (new Observability.MetricsEndpoint(agent, $"127.0.0.1:{port}"), port); }
            catch (System.Net.HttpListenerException) when (attempt < 5) { }
        }
    }
}
