using TrafficStore.Agent.Tests.Support;
using TrafficStore.Agent.Shipping;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// Exactly-once delivery from the agent to the store (docs/agent.md "Exactly once"): whenever the server stored a
/// batch but the agent never got its PutResult — the answer lost on the wire, the server restarted before the
/// agent heard back, the agent killed before it wrote its ack, or a stop whose drain deadline aborted the stream
/// (the duplicate the previous agent documented) — the agent sends the batch again, and the store has each row
/// once. Without the batch identity every one of these stores the batch twice.
/// </summary>
public sealed class ExactlyOnceTests : IAsyncLifetime
{
    private const string FeedSource = "exactly-once-feed";
    private const int RowsPerBatch = 3;
    private readonly string _spoolDir = Directory.CreateTempSubdirectory("ts-agent-once-").FullName;
    private readonly FlightTestServer _server = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        try { Directory.Delete(_spoolDir, recursive: true); } catch (IOException) { }
    }

    private AgentOptions Options(Uri server, string? spool = null, TimeSpan? drain = null) => new()
    {
        Server = server,
        Token = FlightTestServer.Writer,
        Interfaces = [],
        SpoolDirectory = spool ?? _spoolDir,
        NodeName = "once-node",
        ProcRoot = null,
        FlushInterval = TimeSpan.FromMilliseconds(100),
        StatsInterval = TimeSpan.FromHours(1),
        DrainTimeout = drain ?? Deadline,
    };

    /// <summary>Batch <paramref name="i"/> of the feed: rows (frames = i, packets = 0..2).</summary>
    private static Apache.Arrow.RecordBatch FeedBatch(int i) =>
        new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build(Enumerable.Range(0, RowsPerBatch).Select(r => new CaptureStatsRow
        {
            StartedNs = 1_700_000_000_000_000_000L + i * 1000L + r,
            CaptureId = 8_000 + i,
            Source = FeedSource,
            State = "running",
            Frames = i,
            Packets = r,
        }).ToList());

    /// <summary>How long a wait for the agent or the server may take: a deadline, met at once when things work.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static async Task WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    /// <summary>Every fed row of batches 0 .. batches - 1 is on the server exactly once.</summary>
    private async Task AssertEachRowOnce(int batches)
    {
        var rows = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames", "packets");
        var expected = Enumerable.Range(0, batches).SelectMany(i => Enumerable.Range(0, RowsPerBatch).Select(r => $"{i}/{r}")).Order().ToList();
        Assert.Equal(expected, rows.Select(r => $"{r["frames"]}/{r["packets"]}").Order().ToList());
    }

    /// <summary>
    /// Batch 0 ships normally; then the proxy swallows the server's answers, batch 1 is sent, and the test waits
    /// until the server stored it: its PutResult is now lost.
    /// </summary>
    private async Task<NodeAgent> StartAndLoseTheAckOfBatch1(AckLosingProxy proxy, TimeSpan? drain = null)
    {
        var agent = new NodeAgent(Options(proxy.Address, drain: drain));
        Assert.Empty(agent.Start());
        agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(0));
        await WaitUntil(() => agent.Shipper.SentBatches >= 1, Deadline, "batch 0 to be acknowledged");
        await WaitUntil(() => proxy.ServerEndedStreams >= 1, Deadline, "batch 0's call to end (its trailers past the proxy)");
        proxy.HoldResponses = true;
        for (int i = 1; i < 5; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
        await WaitUntil(() => _server.Metrics!.IngestRowsTotal >= 2 * RowsPerBatch, Deadline, "the server to store batch 1");
        // The server counts the rows before it writes the PutResult: wait until its answer was thrown away.
        await WaitUntil(() => proxy.DiscardedBytes > 0, Deadline, "the server's answer to reach the proxy");
        Assert.Equal(1, agent.Shipper.SentBatches);     // the agent has not heard back
        return agent;
    }

    [Fact]
    public async Task AckLostOnTheWire_TheAgentResends_AndTheStoreHasEachRowOnce()
    {
        await _server.StartAsync();
        await using var proxy = new AckLosingProxy(_server.Address);
        await using var agent = await StartAndLoseTheAckOfBatch1(proxy);
        proxy.DropConnections();
        proxy.HoldResponses = false;

        Assert.True(await agent.StopAsync(), "the spool should drain");
        Assert.True(agent.Shipper.Failures >= 1, "the dropped connection should have failed a DoPut");
        Assert.Equal(5, agent.Shipper.SentBatches);
        Assert.Equal(RowsPerBatch, _server.Metrics!.DuplicateRowsTotal);    // batch 1, resent and skipped
        await AssertEachRowOnce(5);
    }

    [Fact]
    public async Task ServerRestartBetweenStoreAndAck_TheResendIsRecognisedByTheRestartedServer()
    {
        await _server.StartAsync();
        await using var proxy = new AckLosingProxy(_server.Address);
        await using var agent = await StartAndLoseTheAckOfBatch1(proxy);
        proxy.DropConnections();
        await _server.StopAsync();
        await _server.StartAsync();             // same store, same address; its counters start from zero
        proxy.HoldResponses = false;

        Assert.True(await agent.StopAsync(), "the spool should drain");
        Assert.Equal(RowsPerBatch, _server.Metrics!.DuplicateRowsTotal);
        await AssertEachRowOnce(5);
    }

    [Fact]
    public async Task AStopWhoseDrainDeadlineAbortsTheStream_NoLongerDuplicatesTheBatch()
    {
        // The duplicate the previous agent documented: the stop's drain deadline aborts a DoPut whose batch the server
        // stored; the batch stays in the spool and the next start sends it again.
        await _server.StartAsync();
        await using var proxy = new AckLosingProxy(_server.Address);
        await using (var agent = await StartAndLoseTheAckOfBatch1(proxy, drain: TimeSpan.FromSeconds(1)))
            Assert.False(await agent.StopAsync(), "the drain should hit its deadline with batch 1 unacknowledged");
        proxy.DropConnections();
        proxy.HoldResponses = false;

        await using var restarted = new NodeAgent(Options(proxy.Address));
        Assert.Empty(restarted.Start());
        Assert.True(await restarted.StopAsync(), "the restarted agent should drain the spool");
        Assert.Equal(4, restarted.Shipper.SentBatches);     // batches 1-4: batch 1 again
        Assert.True(_server.Metrics!.DuplicateRowsTotal >= RowsPerBatch);
        await AssertEachRowOnce(5);
    }

    /// <summary>
    /// A partial reset: the server stored batches whose PutResults never came back, then the spool's segment files were
    /// deleted while <c>ack</c> and <c>agent-id</c> stayed. The numbering used to resume after the last acknowledged
    /// batch, under the same id: the new batches got the numbers of the stored ones and were dropped as duplicates.
    /// </summary>
    [Fact]
    public async Task SegmentsDeleted_AfterBatchesWereStoredUnacknowledged_EveryNewBatchIsStored()
    {
        await _server.StartAsync();
        await using (var proxy = new AckLosingProxy(_server.Address))
        {
            await using (var agent = await StartAndLoseTheAckOfBatch1(proxy, drain: TimeSpan.FromSeconds(1)))
                Assert.False(await agent.StopAsync(), "the drain should hit its deadline with batch 1 unacknowledged");
        }
        long duplicatesBefore = _server.Metrics!.DuplicateRowsTotal; // the stop's drain may have resent batch 1 (skipped)
        foreach (var f in Directory.EnumerateFiles(_spoolDir, "*.spool")) File.Delete(f);
        Assert.True(File.Exists(Path.Combine(_spoolDir, "ack")));

        await using (var restarted = new NodeAgent(Options(_server.Address)))
        {
            Assert.Null(restarted.NewIdentity);     // the numbering is known: same identity, numbers past the old ones
            Assert.Empty(restarted.Start());
            for (int i = 5; i < 8; i++) restarted.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
            Assert.True(await restarted.StopAsync(), "the spool should drain");
        }
        Assert.Equal(duplicatesBefore, _server.Metrics!.DuplicateRowsTotal); // none of the new batches taken for a duplicate
        var rows = (await _server.QueryAsync($"capture_stats where source='{FeedSource}'")).Rows("frames", "packets")
            .Select(r => $"{r["frames"]}/{r["packets"]}").ToList();
        Assert.Equal(rows.Count, rows.Distinct().Count());
        foreach (int i in new[] { 0, 1, 5, 6, 7 })
            for (int r = 0; r < RowsPerBatch; r++) Assert.Contains($"{i}/{r}", rows);
    }

    [Fact]
    public async Task AgentKilledAfterTheServerCommitted_ResendsOnRestart_AndTheStoreHasEachRowOnce()
    {
        // The spool while the server is down: five batches, not acknowledged.
        await using (var offline = new NodeAgent(Options(_server.Address, drain: TimeSpan.FromMilliseconds(200))))
        {
            Assert.Empty(offline.Start());
            for (int i = 0; i < 5; i++) offline.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
            Assert.False(await offline.StopAsync());
        }
        // A copy of that spool is what a kill -9 leaves when it hits after the server stored the batches but
        // before the agent wrote its ack file.
        var killed = _spoolDir + "-killed";
        CopyDirectory(_spoolDir, killed);
        try
        {
            await _server.StartAsync();
            await using (var agent = new NodeAgent(Options(_server.Address)))
            {
                Assert.Empty(agent.Start());
                Assert.True(await agent.StopAsync());
                Assert.Equal(5, agent.Shipper.SentBatches);
            }
            await using (var restarted = new NodeAgent(Options(_server.Address, spool: killed)))
            {
                Assert.Empty(restarted.Start());
                Assert.True(await restarted.StopAsync());
                Assert.Equal(5, restarted.Shipper.SentBatches);     // all sent again, and acknowledged again
            }
            Assert.Equal(5 * RowsPerBatch, _server.Metrics!.DuplicateRowsTotal);
            await AssertEachRowOnce(5);
        }
        finally { Directory.Delete(killed, recursive: true); }
    }

    [Fact]
    public async Task ALinkThatKeepsFailing_AfterProgress_IsRetriedAtOnce_AndStoresEachRowOnce()
    {
        // Every connection is cut after a few PutResults. The shipper used to double its backoff on every failure,
        // progress or not (0.2 s up to 10 s): 20 batches over such a link took about a minute. Now a failure after
        // acknowledged batches retries after the shortest delay; each cut may lose a PutResult, resent and skipped.
        await _server.StartAsync();
        await using var proxy = new AckLosingProxy(_server.Address) { DropAfterServerBytes = 400 };
        await using var agent = new NodeAgent(Options(proxy.Address));
        var time = new RecordingTime();
        agent.ShipperForTests.Time = time;
        Assert.Empty(agent.Start());
        for (int i = 0; i < 20; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
        Assert.True(await agent.StopAsync(), $"the spool should drain over the failing link; {agent.Shipper}, {proxy.BytesDrops} cuts");
        Assert.True(proxy.BytesDrops >= 4, $"{proxy.BytesDrops} cuts: the link should have failed several times");
        Assert.True(agent.Shipper.Failures >= 4, $"{agent.Shipper.Failures} failures");
        await AssertEachRowOnce(20);
        // The delays the shipper chose, not a wall clock (which a loaded machine stretches): every cut came after
        // acknowledged batches, so each wait is the shortest. One doubling is allowed: a stream can fail on a connection
        // the cut already closed before anything was acknowledged on it. Doubling on every failure waited 0.2, 0.4, 0.8 s ...
        var delays = time.Delays.ToArray();
        Assert.NotEmpty(delays);
        Assert.All(delays, d => Assert.True(d <= 2 * FlightShipper.MinBackoff, $"waited {d} between attempts: {string.Join(", ", delays)}"));
    }

    /// <summary>Records the delays asked of it and waits them out on the real clock.</summary>
    private sealed class RecordingTime : TimeProvider
    {
        public readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> Delays = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            Delays.Enqueue(dueTime);
            return TimeProvider.System.CreateTimer(callback, state, dueTime, period);
        }
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.EnumerateFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    /// <summary>
    /// The spool is reset (its segments and ack file deleted, e.g. to clear it) but keeps <c>agent-id</c>: its numbering
    /// starts at 1 again. Under the old id the server took the new batches for the ones it had (same numbers) and
    /// dropped them, silently, until the numbers passed its mark. The agent now starts a new identity.
    /// </summary>
    [Fact]
    public async Task ASpoolResetThatKeepsItsAgentId_ShipsEveryNewBatch()
    {
        await _server.StartAsync();
        string firstId;
        await using (var agent = new NodeAgent(Options(_server.Address)))
        {
            Assert.Empty(agent.Start());
            for (int i = 0; i < 3; i++) agent.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
            Assert.True(await agent.StopAsync(), "the spool should drain");
            firstId = agent.AgentId;
            Assert.Null(agent.NewIdentity);
        }
        foreach (var f in Directory.EnumerateFiles(_spoolDir).Where(f => Path.GetFileName(f) != "agent-id")) File.Delete(f);
        Assert.True(File.Exists(Path.Combine(_spoolDir, "agent-id")));

        string? resetId, why;
        await using (var reset = new NodeAgent(Options(_server.Address)))
        {
            (resetId, why) = (reset.AgentId, reset.NewIdentity);
            Assert.Empty(reset.Start());
            for (int i = 3; i < 6; i++) reset.Enqueue(TrafficTables.CaptureStats, FeedBatch(i));
            Assert.True(await reset.StopAsync(), "the spool should drain");
        }
        await AssertEachRowOnce(6);
        Assert.Equal(0, _server.Metrics!.DuplicateRowsTotal);
        Assert.NotEqual(firstId, resetId);
        Assert.Contains(firstId, why);

        // A plain restart keeps the identity (and its numbering): resends stay recognisable.
        await using var restarted = new NodeAgent(Options(_server.Address));
        Assert.Null(restarted.NewIdentity);
        Assert.Equal(File.ReadAllText(Path.Combine(_spoolDir, "agent-id")).Trim(), restarted.AgentId);
    }

    /// <summary>
    /// The store keeps marks for one agent and another has it: this agent's batches are refused (ResourceExhausted
    /// with the server's refusal trailer). The shipper must not take that for "message too large" (it used to halve
    /// its message bound on every ResourceExhausted): it keeps its bound, counts failures, keeps the batches spooled.
    /// </summary>
    [Fact]
    public async Task ADeliverySourceRefusal_IsRetriedLater_NotTakenForAMessageSizeLimit()
    {
        await using var server = new FlightTestServer(database: new TrafficStore.Store.TrafficDatabaseOptions { Engine = o => o with { MaxDeliverySources = 1 } });
        await server.StartAsync();
        var other = Directory.CreateTempSubdirectory("ts-agent-other-").FullName;
        try
        {
            await using (var first = new NodeAgent(Options(server.Address, spool: other)))
            {
                Assert.Empty(first.Start());
                first.Enqueue(TrafficTables.CaptureStats, FeedBatch(0));
                Assert.True(await first.StopAsync());
            }
            await using var refused = new NodeAgent(Options(server.Address, drain: TimeSpan.FromSeconds(1)));
            long bound = refused.Shipper.MessageLimit;
            Assert.Empty(refused.Start());
            refused.Enqueue(TrafficTables.CaptureStats, FeedBatch(1));
            await WaitUntil(() => refused.Shipper.Failures >= 2, Deadline, "two refused attempts");
            Assert.Equal(bound, refused.Shipper.MessageLimit);
            Assert.Contains("ResourceExhausted", refused.Shipper.LastError);
            Assert.False(await refused.StopAsync(), "the batch stays spooled");
            Assert.Equal(1, refused.Spool.PendingBatches);
            Assert.Equal(0, refused.Shipper.RejectedRows);
        }
        finally { Directory.Delete(other, recursive: true); }
    }
}
