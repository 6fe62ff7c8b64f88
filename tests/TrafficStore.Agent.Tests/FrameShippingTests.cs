using System.Net;
using System.Net.Sockets;
using Apache.Arrow;
using TrafficStore.Agent.Capture;
using TrafficStore.Agent.Tests.Support;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// The agent's packets rows: batches are cut at the size bound with every frame kept whole and in
/// order, and <see cref="AgentOptions.ShipFrames"/> off leaves packets out while the derived tables
/// (connections, connection_timeline) still come.
/// </summary>
public sealed class FrameShippingTests
{
    private static CaptureFrame Frame(int i, byte[] bytes) => new()
    {
        Number = i + 1, TimestampNs = 1_700_000_000_000_000_000L + i, OriginalLength = bytes.Length,
        LinkType = LinkType.Ethernet, InterfaceId = 2, Data = bytes,
    };

    [Fact]
    public async Task TheCaptureThreadAddsFrames_WhileTheFlushThreadElidesACutGroup()
    {
        // The elision of a drained group used to run under the lock the capture thread takes for every frame,
        // blocking capture for its whole duration. Now it runs outside: while the flush thread is held inside
        // it (the test hook), frames and a hold-bound cut still go through on another thread.
        var buffer = new FrameBuffer(64 << 10, holdBytes: 8 << 10);
        for (int i = 0; i < 5; i++) buffer.Add(Frame(i, new byte[1000]), captureId: 5, connectionId: 42, ownerNamespace: "");
        using var inElision = new ManualResetEventSlim();
        using var finish = new ManualResetEventSlim();
        // Deadlines long enough for a loaded machine; the elision is held longer than the capture may take, so a capture
        // that waits for it still fails the test.
        buffer.Releasing = () => { inElision.Set(); finish.Wait(TimeSpan.FromMinutes(5)); };
        var drain = Task.Run(buffer.Drain);
        Assert.True(inElision.Wait(TimeSpan.FromSeconds(60)), "the drain should reach the elision");
        var capture = Task.Run(() =>
        {
            for (int i = 5; i < 25; i++) buffer.Add(Frame(i, new byte[1000]), captureId: 5, connectionId: 42, ownerNamespace: "");
        });
        bool captured = await Task.WhenAny(capture, Task.Delay(TimeSpan.FromSeconds(60))) == capture;
        finish.Set();
        Assert.True(captured, "adding frames should not wait for the elision of another group");
        buffer.Releasing = null;
        var first = await drain;
        var rest = buffer.Drain();
        // Every frame once, in order: the drained group, then the groups cut at the hold bound meanwhile.
        var frames = first.Concat(rest).SelectMany(g => g.Packets).SelectMany(b => Enumerable.Range(0, b.Length).Select(r => ((Int64Array)b.Column("frame")).GetValue(r)!.Value));
        Assert.Equal(Enumerable.Range(1, 25).Select(i => (long)i), frames);
        Assert.Single(first);
        Assert.True(rest.Count >= 2, $"{rest.Count} groups: the 8 KiB hold bound should have cut the 20 frames added meanwhile");
    }

    [Fact]
    public void FrameBatchesAreCutAtTheSizeBoundAndKeepEveryFrameWhole()
    {
        const int Frames = 300, FrameBytes = 1000;
        const long Bound = 64 << 10;
        var buffer = new FrameBuffer(Bound, holdBytes: long.MaxValue);
        var sent = new List<byte[]>();
        for (int i = 0; i < Frames; i++)
        {
            var bytes = new byte[FrameBytes - (i % 7)];
            new Random(i).NextBytes(bytes);
            sent.Add(bytes);
            var frame = new CaptureFrame
            {
                Number = i + 1, TimestampNs = 1_700_000_000_000_000_000L + i, OriginalLength = bytes.Length + 3,
                LinkType = LinkType.Ethernet, InterfaceId = 2, Data = bytes,
            };
            buffer.Add(frame, captureId: 5, connectionId: i % 2 == 0 ? 42 : null, ownerNamespace: i % 3 == 0 ? "shop" : "");
        }
        var batches = buffer.Drain().SelectMany(g => g.Packets).ToList();
        Assert.Empty(buffer.Drain());

        var packets = ArrowSchemas.ToSchema(TrafficTables.PacketsDefinition);
        Assert.True(batches.Count >= Frames * FrameBytes / Bound, $"{batches.Count} batches for {Frames * FrameBytes} bytes");
        int row = 0;
        foreach (var batch in batches)
        {
            Assert.Equal(packets.FieldsList.Select(f => (f.Name, f.DataType.TypeId)), batch.Schema.FieldsList.Select(f => (f.Name, f.DataType.TypeId)));
            var data = (BinaryArray)batch.Column("data");
            long dataBytes = 0;
            for (int r = 0; r < batch.Length; r++, row++)
            {
                Assert.Equal(sent[row], data.GetBytes(r).ToArray());
                dataBytes += data.GetBytes(r).Length;
                Assert.Equal(row + 1, ((Int64Array)batch.Column("frame")).GetValue(r));
                Assert.Equal(row % 2 == 0 ? 42 : null, ((Int64Array)batch.Column("connection_id")).GetValue(r));
                Assert.Equal(row % 3 == 0 ? "shop" : "", ((StringArray)batch.Column("owner_namespace")).GetString(r));
                Assert.Equal(sent[row].Length + 3, ((Int64Array)batch.Column("orig_len")).GetValue(r));
                Assert.True(batch.Column("body_exchange_id").IsNull(r));
                Assert.True(batch.Column("body_direction").IsNull(r));
                Assert.True(batch.Column("body_len").IsNull(r));
            }
            // Cut as soon as the bound is reached: at most one frame (and its fixed columns) past it.
            Assert.True(dataBytes < Bound + FrameBytes, $"a batch holds {dataBytes} frame bytes");
        }
        Assert.Equal(Frames, row);
    }

    [LiveCaptureFact]
    public async Task ShipFramesOffLeavesOutPacketsButNotTheTimeline()
    {
        foreach (bool shipFrames in new[] { true, false })
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var options = new AgentOptions
            {
                Server = new Uri("http://127.0.0.1:1"),
                SpoolDirectory = Path.GetTempPath(),
                ProcRoot = null,
                ShipFrames = shipFrames,
                Capture = new LiveCaptureOptions { Filter = $"tcp port {port}", ReadTimeout = TimeSpan.FromMilliseconds(50) },
            };
            using var capture = new LiveCapture("lo", 77, options, processes: null);
            Assert.Null(capture.Start());
            await Task.Delay(300);   // libpcap is open; let the first read start

            using (var client = new TcpClient())
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                using var accepted = await listener.AcceptTcpClientAsync();
                await client.GetStream().WriteAsync("ping"u8.ToArray());
                var buffer = new byte[4];
                await accepted.GetStream().ReadExactlyAsync(buffer);
            }
            // Stop once the capture has read the exchange (handshake, "ping", its ACK), not after a fixed delay: on a
            // loaded machine the capture thread can be far behind, and what the stop's drain still returns is not this test's subject.
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (capture.Counters.Frames < 4)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"the capture read {capture.Counters.Frames} frames in 60 s");
                await Task.Delay(20);
            }
            capture.Stop();
            await capture.Finished.WaitAsync(TimeSpan.FromSeconds(30));

            var rows = capture.Drain().GroupBy(t => t.Table).ToDictionary(g => g.Key, g => g.Sum(t => t.Batch.Length));
            long frames = capture.Counters.Frames;
            Assert.True(frames >= 4, $"{frames} frames captured");
            Assert.True(rows.GetValueOrDefault(TrafficTables.Connections) >= 1);
            Assert.True(rows.GetValueOrDefault(TrafficTables.ConnectionTimeline) >= 1);
            Assert.Equal(shipFrames ? frames : 0, rows.GetValueOrDefault(TrafficTables.Packets));
        }
    }
}
