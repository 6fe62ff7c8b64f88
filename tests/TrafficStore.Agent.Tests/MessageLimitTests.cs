using Apache.Arrow;
using TrafficStore.Agent.Tests.Support;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// DoPut message size (docs/agent.md "Message size"): a spooled batch larger than the server's gRPC receive
/// limit used to fail its DoPut with ResourceExhausted on every retry, so the spool stopped draining behind
/// it and filled (a 243 MB payloads batch from the benchmark corpus replayed with a long flush interval).
/// The shipper sends such a batch as row slices that fit, learning a lower server limit from the refusal;
/// a single row larger than any message is rejected and counted, and the batches after it still ship.
/// </summary>
public sealed class MessageLimitTests : IAsyncLifetime
{
    private const string FeedSource = "message-limit-feed";
    private const int ServerLimit = 256 << 10;
    private readonly string _spoolDir = Directory.CreateTempSubdirectory("ts-agent-limit-").FullName;
    private readonly FlightTestServer _server = new(maxReceiveMessageBytes: ServerLimit);

    public Task InitializeAsync() => _server.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try { Directory.Delete(_spoolDir, recursive: true); } catch (IOException) { }
    }

    private AgentOptions Options() => new()
    {
        Server = _server.Address,
        Token = FlightTestServer.Writer,
        Interfaces = [],
        SpoolDirectory = _spoolDir,
        NodeName = "limit-node",
        ProcRoot = null,
        StatsInterval = TimeSpan.FromHours(1),
        DrainTimeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>capture_stats rows numbered from <paramref name="first"/> (the frames column), each carrying <paramref name="errorBytes"/> bytes of text.</summary>
    private static RecordBatch Feed(int first, int rows, int errorBytes) => Feed(first, rows, _ => errorBytes);

    private static RecordBatch Feed(int first, int rows, Func<int, int> errorBytes)
    {
        var list = Enumerable.Range(first, rows).Select(i => new CaptureStatsRow
        {
            StartedNs = 1_700_000_000_000_000_000L + i,
            CaptureId = 7_000,
            Source = FeedSource,
            State = "error",
            Error = $"row {i} " + new string((char)('a' + i % 26), errorBytes(i)),
            Frames = i,
        }).ToList();
        return new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build(list);
    }

    private async Task<List<Dictionary<string, string?>>> Stored() =>
        (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames", "error");

    [Fact]
    public async Task BatchBeyondTheServersLimit_ShipsWhole_InSlicesThatFit()
    {
        await using var agent = new NodeAgent(Options());
        Assert.Empty(agent.Start());
        agent.Enqueue(TrafficTables.CaptureStats, Feed(0, 2, 100));
        // 64 rows of 16 KiB: 1 MiB, four times what the server takes in one message (the agent's own bound is larger).
        agent.Enqueue(TrafficTables.CaptureStats, Feed(2, 64, 16 << 10));
        agent.Enqueue(TrafficTables.CaptureStats, Feed(66, 2, 100));

        Assert.True(await agent.StopAsync(), $"the spool should drain; shipper: {agent.Shipper}");
        Assert.Equal(0, agent.Shipper.RejectedRows);
        var stored = await Stored();
        Assert.Equal(Enumerable.Range(0, 68).Select(i => i.ToString()), stored.Select(r => r["frames"]!).Order(Comparer<string>.Create((a, b) => int.Parse(a).CompareTo(int.Parse(b)))));
        var big = Feed(2, 64, 16 << 10);
        var sent = (StringArray)big.Column(big.Schema.GetFieldIndex("error"));
        foreach (var row in stored.Where(r => int.Parse(r["frames"]!) is >= 2 and < 66))
            Assert.Equal(sent.GetString(int.Parse(row["frames"]!) - 2), row["error"]);
        Assert.True(agent.Shipper.MessageLimit <= ServerLimit, $"limit learned: {agent.Shipper.MessageLimit}");
    }

    [Fact]
    public async Task RowBeyondAnyMessage_IsRejectedAndCounted_AndShippingGoesOn()
    {
        var options = Options() with { MaxPutMessageBytes = ServerLimit };
        await using var agent = new NodeAgent(options);
        Assert.Empty(agent.Start());
        // Row 1 alone is larger than a message may be; rows 0 and 2 of its batch fit.
        agent.Enqueue(TrafficTables.CaptureStats, Feed(0, 3, i => i == 1 ? ServerLimit + 1000 : 100));
        agent.Enqueue(TrafficTables.CaptureStats, Feed(3, 2, 100));

        Assert.True(await agent.StopAsync(), $"the spool should drain; shipper: {agent.Shipper}");
        Assert.Equal(1, agent.Shipper.RejectedRows);
        Assert.Contains("exceeds", agent.Shipper.LastError);
        Assert.Contains("trafficstore_agent_rejected_rows_total 1\n", Observability.AgentMetrics.Render(agent));
        var stored = (await Stored()).Select(r => int.Parse(r["frames"]!)).Order().ToList();
        Assert.Equal([0, 2, 3, 4], stored);
    }
}
