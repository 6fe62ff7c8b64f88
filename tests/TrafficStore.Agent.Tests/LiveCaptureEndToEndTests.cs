using System.Net;
using System.Net.Sockets;
using System.Text;
using TrafficStore.Agent.Tests.Support;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// The agent capturing 'lo' while this test makes real HTTP/1.1, gRPC (h2c) and DNS exchanges
/// against local servers; everything is then found on the real Flight server (in-process, its own
/// temporary store) through a query with the stock Flight client, with this process as the owner
/// of the server sockets. tcpdump captures the /hello connection beside the agent: the frames the
/// server stores for it must be those bytes exactly.
/// </summary>
public sealed class LiveCaptureEndToEndTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [LiveCaptureFact]
    public async Task HttpGrpcAndDnsOnLoopbackReachTheServerWithProcessIdentity()
    {
        await using var server = new FlightTestServer();
        await server.StartAsync();
        await using var services = await LocalServices.StartAsync();
        var spool = Directory.CreateTempSubdirectory("ts-agent-live-").FullName;
        var reference = Path.Combine(Path.GetTempPath(), $"ts-agent-live-{Guid.NewGuid():N}.pcap");
        try
        {
            // Only the test's exchanges: not the agent's own DoPut traffic to the server.
            string filter = $"tcp port {services.Http1Port} or tcp port {services.H2cPort} or (udp port 53 and host {LocalServices.DnsAddress})";
            // An independent libpcap reader with the agent's filter (tcpdump, as root: no privilege drop; every packet written at once).
            using var tcpdump = await Tcpdump.StartAsync("lo", filter, reference);
            var agent = new NodeAgent(new AgentOptions
            {
                Server = server.Address,
                Token = FlightTestServer.Writer,
                Interfaces = ["lo"],
                Capture = new Ingest.Capture.LiveCaptureOptions
                {
                    Filter = filter,
                    ReadTimeout = TimeSpan.FromMilliseconds(50),
                },
                SpoolDirectory = spool,
                NodeName = "test-node",
                FlushInterval = TimeSpan.FromMilliseconds(200),
            });
            long captureId;
            await using (agent)
            {
                var errors = agent.Start();
                Assert.True(errors.Count == 0, string.Join("; ", errors));
                captureId = agent.Captures.Single().CaptureId;
                await Task.Delay(300);   // libpcap is open; let the first read start

                using (var http = new HttpClient())
                {
                    var hello = await http.GetStringAsync($"http://127.0.0.1:{services.Http1Port}/hello");
                    Assert.Equal("hello from kestrel", hello);

                    var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{services.H2cPort}{LocalServices.GrpcPath}")
                    {
                        Version = HttpVersion.Version20,
                        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                        Content = new ByteArrayContent(LocalServices.GrpcFrame(Encoding.UTF8.GetBytes("ping"))),
                    };
                    request.Content.Headers.ContentType = new("application/grpc");
                    request.Headers.TryAddWithoutValidation("te", "trailers");
                    using var response = await http.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    await response.Content.ReadAsByteArrayAsync();
                    Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
                }

                using (var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
                {
                    await udp.SendAsync(LocalServices.DnsQuery(0x4242), services.DnsEndPoint);
                    var answer = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(60));
                    Assert.Equal(LocalServices.DnsAnswer, answer.Buffer[^4..]);
                }

                // Stop once the /hello connection's teardown happened (its FINs come when the HttpClient is disposed, the
                // server's can come much later on a loaded machine) and the agent's capture has read every frame tcpdump
                // saw by then: on a loaded machine its capture thread can be hundreds of frames behind, and what it reads
                // in the stop's drain is not what this test is about (a fixed 300 ms delay was the guess before).
                await WaitForTeardownAsync(reference, services.Http1Port);
                int seen = ReadFrames(reference, port: null, whole: false).Count;
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while (agent.Captures[0].Counters.Frames < seen)
                {
                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"the agent read {agent.Captures[0].Counters.Frames} of the {seen} frames tcpdump saw");
                    await Task.Delay(20);
                }
                output.WriteLine($"before stop: {agent.Captures[0].Counters} rows {string.Join(",", agent.RowsSpooled)} ship {agent.Shipper}");
                var sw = System.Diagnostics.Stopwatch.StartNew();
                bool drained = await agent.StopAsync();
                output.WriteLine($"stop took {sw.Elapsed}; {agent.Captures[0].Counters} result {agent.Captures[0].Result} rows {string.Join(",", agent.RowsSpooled)} ship {agent.Shipper} spool {agent.Spool}");
                Assert.True(drained, "the agent should ship everything at shutdown");
                Assert.Equal(0, agent.Spool.DroppedBatches);
            }
            await tcpdump.StopAsync();

            string pid = Environment.ProcessId.ToString();
            var connections = (await server.QueryAsync($"connections where capture_id={captureId}"))
                .Rows("transport", "server_port", "client_ip", "protocol", "node", "client_pid", "server_pid", "server_command", "connection_id", "pkts_c2s", "pkts_s2c");
            foreach (int port in new[] { services.Http1Port, services.H2cPort, services.DnsPort })
            {
                var row = connections.FirstOrDefault(r => r["server_port"] == port.ToString());
                Assert.True(row is not null, $"no connection to port {port} in {connections.Count} rows");
                Assert.StartsWith("127.0.0.", row!["client_ip"]);
                Assert.Equal("test-node", row["node"]);
                // Both ends are sockets of this test process; the server end was bound before the capture began.
                Assert.Equal(pid, row["server_pid"]);
                Assert.False(string.IsNullOrEmpty(row["server_command"]));
                Assert.True(row["client_pid"] is null || row["client_pid"] == pid);
            }
            Assert.Equal("udp", connections.Single(r => r["server_port"] == services.DnsPort.ToString())["transport"]);

            var exchanges = (await server.QueryAsync($"http where capture_id={captureId}"))
                .Rows("method", "uri", "status", "proto", "grpc_service", "grpc_method", "server_port");
            Assert.Contains(exchanges, r => r["method"] == "GET" && r["uri"] == "/hello" && r["status"] == "200" && r["server_port"] == services.Http1Port.ToString());
            Assert.Contains(exchanges, r => r["method"] == "POST" && r["server_port"] == services.H2cPort.ToString()
                                        && r["grpc_service"] == "agenttest.Echo" && r["grpc_method"] == "Say" && r["status"] == "200");

            // Headers and full bodies reach the store too (payloads), tied to their exchange.
            var payloads = (await server.QueryAsync($"payloads where capture_id={captureId}")).Rows("kind", "headers", "body", "exchange_id");
            var helloResponse = payloads.Single(r => r["kind"] == "response" && r["body"] is { } b && Encoding.UTF8.GetString(Convert.FromHexString(b)) == "hello from kestrel");
            Assert.Contains(payloads, r => r["kind"] == "request" && r["exchange_id"] == helloResponse["exchange_id"] && r["headers"]!.StartsWith("GET /hello HTTP/1.1\n", StringComparison.Ordinal));

            // Raw frames (packets) of the /hello connection: byte for byte what tcpdump captured, in order, stored whole.
            var helloConnection = connections.Single(r => r["server_port"] == services.Http1Port.ToString());
            var frames = (await server.QueryAsync($"packets where capture_id={captureId}"))
                .Rows("frame", "connection_id", "data", "orig_len", "body_exchange_id")
                .Where(r => r["connection_id"] == helloConnection["connection_id"])
                .OrderBy(r => long.Parse(r["frame"]!)).ToList();
            var expected = ReadFrames(reference, services.Http1Port);
            output.WriteLine($"/hello: {frames.Count} frames stored, {expected.Count} captured by tcpdump");
            Assert.True(expected.Count >= 6, $"tcpdump saw only {expected.Count} frames of /hello");
            Assert.Equal(expected, frames.Select(r => r["data"]!).ToList());
            Assert.All(frames, r => Assert.Null(r["body_exchange_id"]));
            Assert.All(frames, r => Assert.Equal((r["data"]!.Length / 2).ToString(), r["orig_len"]));

            // Its connection_timeline rows end with the connection row's packet counts.
            var timeline = (await server.QueryAsync($"connection_timeline where capture_id={captureId}"))
                .Rows("ts", "connection_id", "pkts_c2s", "pkts_s2c", "transport")
                .Where(r => r["connection_id"] == helloConnection["connection_id"])
                .OrderBy(r => long.Parse(r["ts"]!)).ToList();
            Assert.NotEmpty(timeline);
            Assert.Equal("tcp", timeline[^1]["transport"]);
            Assert.Equal(helloConnection["pkts_c2s"], timeline[^1]["pkts_c2s"]);
            Assert.Equal(helloConnection["pkts_s2c"], timeline[^1]["pkts_s2c"]);
            Assert.Equal(expected.Count, long.Parse(timeline[^1]["pkts_c2s"]!) + long.Parse(timeline[^1]["pkts_s2c"]!));

            var dns = (await server.QueryAsync($"dns where capture_id={captureId}")).Rows("qname", "a", "rcode_name");
            Assert.Contains(dns, r => r["qname"] == LocalServices.DnsName && r["a"] == "10.1.2.3" && r["rcode_name"] == "NOERROR");

            var stats = (await server.QueryAsync($"capture_stats where capture_id={captureId}"))
                .Rows("state", "node", "frames", "capture_received", "capture_dropped_kernel", "agent_dropped_rows");
            var final = stats.Single(r => r["state"] == "complete");
            Assert.Equal("test-node", final["node"]);
            Assert.True(long.Parse(final["frames"]!) > 0);
            Assert.NotNull(final["capture_received"]);
            Assert.NotNull(final["capture_dropped_kernel"]);
            Assert.Equal("0", final["agent_dropped_rows"]);
        }
        finally
        {
            try { Directory.Delete(spool, recursive: true); } catch (IOException) { }
            File.Delete(reference);
        }
    }

    /// <summary>
    /// Waits until the reference capture (tcpdump writes each packet at once) holds the end of the connection to
    /// <paramref name="port"/>: a FIN from each side and a segment after both (the last ACK), or a reset.
    /// </summary>
    private static async Task WaitForTeardownAsync(string reference, int port)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!TornDown(reference, port))
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"tcpdump did not see the connection to port {port} end within 60 s");
            await Task.Delay(50);
        }
    }

    private static bool TornDown(string path, int port)
    {
        try
        {
            using var source = Ingest.Capture.CaptureFile.Open(path);
            var decoder = new Ingest.Decode.PacketDecoder();
            var frame = new Ingest.Capture.CaptureFrame();
            bool clientFin = false, serverFin = false;
            while (source.TryReadNext(ref frame) == Ingest.Capture.CaptureReadStatus.Frame)
            {
                if (decoder.Decode(in frame, out var p, out _) != Ingest.Decode.DecodeStatus.Decoded || !p.IsTcp) continue;
                if (p.SourcePort != port && p.DestinationPort != port) continue;
                if (p.HasFlag(Ingest.Decode.TcpFlags.Rst)) return true;
                if (clientFin && serverFin) return true;     // a segment after both FINs: the last ACK
                if (p.HasFlag(Ingest.Decode.TcpFlags.Fin))
                {
                    if (p.SourcePort == port) serverFin = true;
                    else clientFin = true;
                }
            }
            return false;
        }
        catch (Exception e) when (e is IOException or InvalidDataException) { return false; }   // still being written
    }

    /// <summary>
    /// Every frame of a capture file as lowercase hex (how <see cref="Support.QueryRows"/> shows binary), or only those of
    /// TCP <paramref name="port"/>. While tcpdump still writes (<paramref name="whole"/> false), a last record cut short is left out.
    /// </summary>
    private static List<string> ReadFrames(string path, int? port, bool whole = true)
    {
        var frames = new List<string>();
        using var source = Ingest.Capture.CaptureFile.Open(path);
        var decoder = new Ingest.Decode.PacketDecoder();
        var frame = new Ingest.Capture.CaptureFrame();
        while (source.TryReadNext(ref frame) == Ingest.Capture.CaptureReadStatus.Frame)
        {
            if (port is int tcp && (decoder.Decode(in frame, out var p, out _) != Ingest.Decode.DecodeStatus.Decoded || !p.IsTcp
                                    || (p.SourcePort != tcp && p.DestinationPort != tcp))) continue;
            frames.Add(Convert.ToHexStringLower(frame.Data));
        }
        if (whole) Assert.Null(source.Error);
        return frames;
    }
}
