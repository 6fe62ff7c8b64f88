using Apache.Arrow;
using TrafficStore.Agent.Capture;
using TrafficStore.Agent.Spool;
using TrafficStore.Agent.Tests.Support;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// HTTP bodies stored once by the agent (docs/agent.md "Frames and bodies stored once"): a real capture
/// replayed through the agent's own path (<see cref="LiveCapture"/> over the file instead of libpcap,
/// the spool, the shipper) reads back from the server frame for frame as captured, with body bytes
/// left out of the stored frames; frames held past the byte or time bound ship whole; and every packets
/// batch in the spool comes after, and in the same segment as, the payloads rows it refers to — also
/// while the server is down and after the agent restarts.
/// </summary>
public sealed class FrameElisionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Capture = "mixed-large-many-protocols.pcap";

    [Fact]
    public async Task ReplayedFramesReadBackAsCapturedWithBodiesStoredOnceThroughAnOutageAndARestart()
    {
        var path = SharedPcaps.Path(Capture);
        var original = ReadFrames(path);
        await using var server = new FlightTestServer();   // not started yet: the server is down
        var spool = Directory.CreateTempSubdirectory("ts-agent-elision-").FullName;
        try
        {
            long captureId;
            (long Frames, long Bytes) elided;
            await using (var agent = new NodeAgent(ReplayOptions(server, spool, path) with { DrainTimeout = TimeSpan.FromMilliseconds(500) }))
            {
                Assert.Empty(agent.Start());
                captureId = agent.Captures.Single().CaptureId;
                await agent.Captures[0].Finished.WaitAsync(TimeSpan.FromSeconds(60));
                Assert.False(await agent.StopAsync(), "nothing can be shipped while the server is down");
                elided = agent.Captures[0].Elided;
                Assert.Contains($"trafficstore_agent_elided_frames_total{{interface=\"{path}\"}} {elided.Frames}\n", Observability.AgentMetrics.Render(agent));
                output.WriteLine($"spooled {string.Join(", ", agent.RowsSpooled)}; elided {elided}");
            }
            Assert.True(elided.Frames > 0);

            // Left on disk: payloads rows come before, and in the same segment as, every packets batch naming them.
            var spooled = CopyAndReadSpool(spool);
            AssertPayloadsPrecedeReferences(spooled, expectReferences: true);

            // The agent restarts (no interface to capture) with the server up: the spool reaches it in order.
            await server.StartAsync();
            await using (var restarted = new NodeAgent(ReplayOptions(server, spool, path) with { Interfaces = [] }))
            {
                Assert.Empty(restarted.Start());
                Assert.True(await restarted.StopAsync(), "the restarted agent should ship the whole spool");
            }

            var rows = await server.QueryAsync($"packets where capture_id={captureId} select frame, data, body_exchange_id, body_direction, body_len");
            var stored = rows.Rows("frame", "data", "body_exchange_id", "body_direction", "body_len");
            Assert.Equal(original.Count, stored.Count);
            var byFrame = stored.ToDictionary(r => long.Parse(r["frame"]!));
            foreach (var (number, data) in original) Assert.True(byFrame[number]["data"] == data, $"frame {number} differs from the capture");

            // Bytes stored once: the elided frames' body_* columns name payloads rows that hold their bytes.
            var elidedRows = stored.Where(r => r["body_len"] is not null).ToList();
            long elidedBytes = elidedRows.Sum(r => long.Parse(r["body_len"]!));
            long captured = original.Sum(f => (long)f.Data.Length / 2);
            output.WriteLine($"{elidedRows.Count} of {stored.Count} frames elided, {elidedBytes} of {captured} frame bytes");
            Assert.Equal(elided.Frames, elidedRows.Count);
            Assert.Equal(elided.Bytes, elidedBytes);
            Assert.True(elidedBytes > captured / 2, $"{elidedBytes} of {captured} frame bytes elided");
            var payloads = (await server.QueryAsync($"payloads where capture_id={captureId} select exchange_id, direction"))
                .Rows("exchange_id", "direction").Select(r => (r["exchange_id"], r["direction"])).ToHashSet();
            Assert.All(elidedRows, r => Assert.Contains((r["body_exchange_id"], r["body_direction"]), payloads));
            Assert.All(elidedRows, r => Assert.Equal(captureId, StoreIds.CaptureOf(long.Parse(r["body_exchange_id"]!))));
        }
        finally
        {
            try { Directory.Delete(spool, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// The hold ends at a flush or at the byte bound: the same capture replayed with a flush after every
    /// frame (the time bound reached at once), and with a hold of a few frames, elides fewer frames: a frame
    /// whose body completed only after its group was cut ships whole, since a group's frames refer only to
    /// payloads rows of that same group (checked for every group).
    /// </summary>
    [Fact]
    public void FramesHeldPastTheBoundShipWhole()
    {
        var path = SharedPcaps.Path(Capture);
        var unbounded = ElidedFrames(path, holdBytes: long.MaxValue, flushEveryFrame: false);
        var bytesBound = ElidedFrames(path, holdBytes: 16 << 10, flushEveryFrame: false);
        var timeBound = ElidedFrames(path, holdBytes: long.MaxValue, flushEveryFrame: true);
        output.WriteLine($"elided frames: unbounded {unbounded.Count}, 16 KiB hold {bytesBound.Count}, flush every frame {timeBound.Count}");
        Assert.NotEmpty(unbounded);
        Assert.True(bytesBound.Count < unbounded.Count);
        Assert.True(timeBound.Count < bytesBound.Count);
    }

    [Fact]
    public async Task NoFramesShipsPayloadsAloneAndNoPackets()
    {
        var path = SharedPcaps.Path(Capture);
        var options = ReplayOptions(null, Path.GetTempPath(), path) with { ShipFrames = false };
        using var capture = new LiveCapture("replay", 78, options, processes: null);
        Assert.Null(capture.Start());
        await capture.Finished.WaitAsync(TimeSpan.FromSeconds(60)); // TimeoutException if the replay hangs
        var units = capture.DrainGroups();
        Assert.All(units, u => Assert.Single(u));
        var tables = units.Select(u => u[0].Table).ToList();
        Assert.DoesNotContain(TrafficTables.Packets, tables);
        Assert.Contains(TrafficTables.Payloads, tables);
        Assert.Equal((0, 0), capture.Elided);
    }

    /// <summary>
    /// A payloads batch the server rejects (here: not the payloads schema) takes the packets batches that
    /// refer to its rows with it, counted as rejected; a packets batch after them that refers to no row ships.
    /// </summary>
    [Fact]
    public async Task PacketsReferringToARejectedPayloadsBatchAreRejectedToo()
    {
        var path = SharedPcaps.Path(Capture);
        List<List<(string Table, RecordBatch Batch)>> units;
        using (var capture = new LiveCapture("replay", 80, ReplayOptions(null, Path.GetTempPath(), path), processes: null))
        {
            Assert.Null(capture.Start());
            await capture.Finished.WaitAsync(TimeSpan.FromSeconds(60)); // TimeoutException if the replay hangs
            units = capture.DrainGroups();
        }
        static bool Refers(RecordBatch b) => b.Column("body_exchange_id").NullCount < b.Length;
        var referring = units.SelectMany(u => u).Where(b => b.Table == TrafficTables.Packets && Refers(b.Batch)).Select(b => b.Batch).ToList();
        Assert.NotEmpty(referring);
        // The same frames kept whole: the body_* columns of a batch that refers to nothing.
        var whole = new FrameBuffer(64L << 20, long.MaxValue);
        whole.Add(new CaptureFrame { Number = 1, TimestampNs = 1_700_000_000_000_000_000L, OriginalLength = 60, LinkType = LinkType.Ethernet, Data = new byte[60] },
            captureId: 80, connectionId: null, ownerNamespace: "");
        var plain = whole.Drain().Single().Packets.Single();

        await using var server = new FlightTestServer();
        await server.StartAsync();
        var dir = Directory.CreateTempSubdirectory("ts-agent-reject-").FullName;
        try
        {
            using var spool = new DiskSpool(dir, 1L << 30);
            var notPayloads = new Ingest.Tables.ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition)
                .Build([new CaptureStatsRow { StartedNs = 1, CaptureId = 80, Source = "reject-test", State = "running" }]);
            spool.AppendGroup([(TrafficTables.Payloads, notPayloads.Length, ArrowIpc.Serialize(notPayloads)),
                .. referring.Select(b => (TrafficTables.Packets, b.Length, ArrowIpc.Serialize(b)))]);
            spool.Append(TrafficTables.Packets, plain.Length, ArrowIpc.Serialize(plain));
            using var shipper = new Shipping.FlightShipper(spool, server.Address, FlightTestServer.Writer);
            Assert.True(await shipper.DrainAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(1 + referring.Count, shipper.Statistics.RejectedBatches);
            Assert.Equal(1, shipper.Statistics.SentBatches);
            Assert.Equal(1, (await server.QueryAsync("packets where capture_id=80 select frame")).Count);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    // ------------------------------------------------------------------ helpers

    private static AgentOptions ReplayOptions(FlightTestServer? server, string spool, string capture) => new()
    {
        Server = server?.Address ?? new Uri("http://127.0.0.1:1"),
        Token = FlightTestServer.Writer,
        Interfaces = [capture],
        SpoolDirectory = spool,
        NodeName = "test-node",
        ProcRoot = null,
        // Long enough that only the hold's byte bound and the final flush cut groups while the file replays.
        FlushInterval = TimeSpan.FromSeconds(30),
        OpenCapture = _ => CaptureFile.Open(capture),
    };

    /// <summary>Frame numbers the agent shipped without body bytes, replaying <paramref name="path"/> through one capture.</summary>
    private static HashSet<long> ElidedFrames(string path, long holdBytes, bool flushEveryFrame)
    {
        LiveCapture? capture = null;
        var units = new List<List<(string Table, RecordBatch Batch)>>();
        var options = ReplayOptions(null, Path.GetTempPath(), path) with
        {
            FrameHoldBytes = holdBytes,
            // A flush tick between any two frames: drained from the capture thread, as the flush loop would.
            OpenCapture = _ => flushEveryFrame ? new FlushingSource(CaptureFile.Open(path), () => units.AddRange(capture!.DrainGroups())) : CaptureFile.Open(path),
        };
        using (capture = new LiveCapture("replay", 79, options, processes: null))
        {
            Assert.Null(capture.Start());
            Assert.True(capture.Finished.Wait(TimeSpan.FromSeconds(60)));
            units.AddRange(capture.DrainGroups());
        }
        // The unit index stands for the spool segment: a reference must stay inside its unit.
        AssertPayloadsPrecedeReferences(units.SelectMany((u, i) => u.Select(b => ((long)i, b.Table, b.Batch))).ToList(), expectReferences: false);
        var elided = new HashSet<long>();
        foreach (var (table, batch) in units.SelectMany(u => u))
        {
            if (table != TrafficTables.Packets) continue;
            var frame = (Int64Array)batch.Column("frame");
            var len = (Int64Array)batch.Column("body_len");
            for (int i = 0; i < batch.Length; i++)
                if (len.GetValue(i) is not null) elided.Add(frame.GetValue(i)!.Value);
        }
        return elided;
    }

    /// <summary>
    /// Every (exchange_id, direction) a packets batch refers to was in a payloads batch before it, in the
    /// same spool segment (or unit, before spooling).
    /// </summary>
    private static void AssertPayloadsPrecedeReferences(List<(long Segment, string Table, RecordBatch Batch)> batches, bool expectReferences)
    {
        var seen = new Dictionary<(long, string), long>();
        int references = 0;
        foreach (var (segment, table, batch) in batches)
        {
            if (table == TrafficTables.Payloads)
            {
                var x = (Int64Array)batch.Column("exchange_id");
                var d = (StringArray)batch.Column("direction");
                for (int i = 0; i < batch.Length; i++) seen[(x.GetValue(i)!.Value, d.GetString(i))] = segment;
            }
            else if (table == TrafficTables.Packets)
            {
                var x = (Int64Array)batch.Column("body_exchange_id");
                var d = (StringArray)batch.Column("body_direction");
                for (int i = 0; i < batch.Length; i++)
                {
                    if (x.GetValue(i) is not long id) continue;
                    references++;
                    Assert.True(seen.TryGetValue((id, d.GetString(i)), out long at), $"packets refer to exchange {id} {d.GetString(i)} before its payloads row");
                    Assert.Equal(segment, at);
                }
            }
        }
        if (expectReferences) Assert.True(references > 0, "no packets row refers to a payloads row");
    }

    /// <summary>Every record left in a spool directory, in order (read from a copy: acknowledging moves the read position).</summary>
    private static List<(long Segment, string Table, RecordBatch Batch)> CopyAndReadSpool(string directory)
    {
        var copy = Directory.CreateTempSubdirectory("ts-agent-spool-copy-").FullName;
        try
        {
            foreach (var f in Directory.EnumerateFiles(directory)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            using var spool = new DiskSpool(copy, long.MaxValue);
            var records = new List<(long, string, RecordBatch)>();
            while (spool.TryPeek(out var e))
            {
                records.Add((e.Segment, e.Table, ArrowIpc.Deserialize(e.Data)));
                spool.Acknowledge(e);
            }
            return records;
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    /// <summary>Every frame of a capture file as lowercase hex (how <see cref="QueryRows"/> shows binary), by frame number.</summary>
    private static List<(long Number, string Data)> ReadFrames(string path)
    {
        var frames = new List<(long, string)>();
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) frames.Add((frame.Number, Convert.ToHexStringLower(frame.Data)));
        Assert.Null(source.Error);
        return frames;
    }

    /// <summary>A capture source that calls <paramref name="between"/> before each frame after the first (a flush tick).</summary>
    private sealed class FlushingSource(ICaptureSource inner, Action between) : ICaptureSource
    {
        private bool _started;

        public string Name => inner.Name;
        public CaptureError? Error => inner.Error;

        public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
        {
            if (_started) between();
            _started = true;
            return inner.TryReadNext(ref frame);
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>The shared captures (/work/shared/pcaps: ../shared beside the repository root, or $TRAFFICSTORE_SHARED).</summary>
internal static class SharedPcaps
{
    public static string Path(string name)
    {
        var env = Environment.GetEnvironmentVariable("TRAFFICSTORE_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return System.IO.Path.Combine(env, "pcaps", name);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "TrafficStore.sln")))
            {
                var path = System.IO.Path.Combine(dir.Parent!.FullName, "shared", "pcaps", name);
                Assert.True(File.Exists(path), path);
                return path;
            }
        throw new FileNotFoundException("no TrafficStore.sln above the test directory", name);
    }
}
