using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols;

/// <summary>
/// The stream parsers (HTTP/1, HTTP/2 with HPACK, TLS, DNS over TCP) on hostile bytes: the real
/// connections of the corpus, recorded as the pipeline hands them to the parsers, mutated (bytes
/// flipped, random bytes inserted, pieces dropped or repeated; fixed seeds) and replayed whole and
/// in random small pieces. Nothing throws, output and allocation stay proportional to the input,
/// and the rows are the same however the mutated bytes were split.
/// </summary>
public class StreamParserFuzzTests
{
    private sealed record Call(string Protocol, FlowContext Flow, FlowDirection Direction, byte[]? Data, long Gap, SegmentInfo Segment);

    /// <summary>Wraps a protocol of the set and records every call its parsers get.</summary>
    private sealed class RecordingProtocol(IStreamProtocol inner, List<Call> calls) : IStreamProtocol
    {
        public string Name => inner.Name;
        public bool IsWellKnownPort(ushort serverPort) => inner.IsWellKnownPort(serverPort);
        public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes) => inner.Classify(direction, firstBytes);
        public IStreamParser CreateParser(FlowContext flow) => new Recorder(inner.Name, flow, calls);

        private sealed class Recorder(string protocol, FlowContext flow, List<Call> calls) : IStreamParser
        {
            public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment) => calls.Add(new(protocol, flow, direction, data.ToArray(), 0, segment));
            public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => calls.Add(new(protocol, flow, direction, null, missingBytes, segment));
            public void OnEnd(long timestampNs) => calls.Add(new(protocol, flow, FlowDirection.ClientToServer, null, -1, new SegmentInfo(0, timestampNs)));
        }
    }

    private static List<Call> Record(string capture)
    {
        var calls = new List<Call>();
        var set = new ProtocolSet(new ListSink<HttpExchange>(), new ListSink<DnsTransaction>(), new ListSink<TlsHandshake>());
        var recording = set.StreamProtocols.Select(p => (IStreamProtocol)new RecordingProtocol(p, calls)).ToArray();
        using (var source = CaptureFile.Open(SharedData.Pcap(capture)))
            new IngestPipeline(new ListSink<ConnectionRecord>(), recording, set.DatagramProtocols).Run(source);
        return calls;
    }

    [Theory]
    [InlineData("http11-pipelined-keepalive.pcap", "http")]
    [InlineData("http11-chunked-gzip-multi-conn.pcap", "http")]
    [InlineData("h2c-nghttp2-prior-knowledge.pcap", "http2")]
    [InlineData("grpc-bidi-streaming-h2c.pcapng", "http2")]
    [InlineData("tls-mixed-tls10-tls12-tls13.pcap", "tls")]
    [InlineData("tls13-hello-retry-request.pcap", "tls")]
    [InlineData("dns-tcp.pcap", "dns")]
    public void MutatedConnectionsNeverThrowStayBoundedAndAreSplitInvariant(string capture, string protocol)
    {
        var recorded = Record(capture);
        Assert.Contains(recorded, c => c.Protocol == protocol && c.Data is { Length: > 0 });
        var (clean, cleanRows) = Replay(recorded, _ => int.MaxValue);
        Assert.True(cleanRows > 0, "the unmutated connections give no rows");
        var failures = new List<string>();
        int changed = 0;
        for (int seed = 1; seed <= 12; seed++)
        {
            var mutated = Mutate(recorded, new Random(seed * 7919 + capture.Length), flipsPer1000: seed * 3);
            long inputBytes = mutated.Sum(c => (long)(c.Data?.Length ?? 0));
            long before = GC.GetAllocatedBytesForCurrentThread();
            var (whole, rows) = Replay(mutated, _ => int.MaxValue);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // A row needs at least a few bytes of its own; bodies are kept whole, so allocation scales with the input.
            if (rows > inputBytes / 4 + 16) failures.Add($"seed {seed}: {rows} rows from {inputBytes} bytes");
            if (allocated > 64 * inputBytes + (16L << 20)) failures.Add($"seed {seed}: {allocated:N0} bytes allocated for {inputBytes:N0} input bytes");
            if (whole != clean) changed++;
            var pieces = new Random(seed);
            var (split, _) = Replay(mutated, _ => 1 + pieces.Next(17));
            if (split != whole) failures.Add($"seed {seed}: rows differ when split in small pieces\n{FirstDifference(whole, split)}");
            if (seed == 1)
            {
                var (byteByByte, _) = Replay(mutated, _ => 1);
                if (byteByByte != whole) failures.Add($"seed {seed}: rows differ when fed byte by byte\n{FirstDifference(whole, byteByByte)}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(changed >= 6, $"only {changed} of 12 mutations changed the rows: the mutations do not reach the parser");
    }

    /// <summary>Flips bytes, inserts random runs, drops or repeats whole pieces, cuts pieces short.</summary>
    private static List<Call> Mutate(List<Call> calls, Random random, int flipsPer1000)
    {
        var result = new List<Call>(calls.Count + 8);
        foreach (var call in calls)
        {
            if (call.Data is not { } data) { result.Add(call); continue; }
            int roll = random.Next(100);
            if (roll < 2) continue; // dropped (as if its bytes never arrived, without a gap)
            var bytes = new List<byte>(data);
            for (int i = 0; i < bytes.Count; i++)
                if (random.Next(1000) < flipsPer1000) bytes[i] = (byte)random.Next(256);
            if (roll < 6 && bytes.Count > 0) bytes.RemoveAt(random.Next(bytes.Count));
            if (roll is >= 6 and < 10)
            {
                var run = new byte[random.Next(1, 300)];
                random.NextBytes(run);
                // Runs of 0xff make huge lengths and varints; runs of 0x00 empty ones.
                if (random.Next(3) == 0) Array.Fill(run, (byte)(random.Next(2) == 0 ? 0xff : 0x00));
                bytes.InsertRange(random.Next(bytes.Count + 1), run);
            }
            if (roll is >= 10 and < 13 && bytes.Count > 1) bytes.RemoveRange(bytes.Count / 2, bytes.Count - bytes.Count / 2);
            result.Add(call with { Data = bytes.ToArray() });
            if (roll is >= 13 and < 15) result.Add(call with { Data = bytes.ToArray() }); // repeated
        }
        return result;
    }

    private static (string Rows, int Count) Replay(List<Call> calls, Func<int, int> pieceSize)
    {
        var http = new ListSink<HttpExchange>();
        var dns = new ListSink<DnsTransaction>();
        var tls = new ListSink<TlsHandshake>();
        var set = new ProtocolSet(http, dns, tls);
        var protocols = set.StreamProtocols.ToDictionary(p => p.Name);
        var parsers = new Dictionary<(string, FlowContext), IStreamParser>();
        foreach (var call in calls)
        {
            if (!parsers.TryGetValue((call.Protocol, call.Flow), out var parser))
                parsers[(call.Protocol, call.Flow)] = parser = protocols[call.Protocol].CreateParser(call.Flow);
            if (call.Data is { } data)
            {
                for (int at = 0; at < data.Length;)
                {
                    int n = Math.Min(Math.Max(1, pieceSize(at)), data.Length - at);
                    parser.OnData(call.Direction, data.AsSpan(at, n), call.Segment);
                    at += n;
                }
            }
            else if (call.Gap >= 0) parser.OnGap(call.Direction, call.Gap, call.Segment);
            else parser.OnEnd(call.Segment.TimestampNs);
        }
        var text = new StringWriter();
        TableWriters.WriteCsv(text, HttpTable.Definition, http.Rows);
        TableWriters.WriteCsv(text, DnsTable.Definition, dns.Rows);
        TableWriters.WriteCsv(text, TlsTable.Definition, tls.Rows);
        return (text.ToString(), http.Rows.Count + dns.Rows.Count + tls.Rows.Count);
    }

    private static string FirstDifference(string a, string b)
    {
        var la = a.Split('\n');
        var lb = b.Split('\n');
        for (int i = 0; i < Math.Max(la.Length, lb.Length); i++)
        {
            string x = i < la.Length ? la[i] : "(none)", y = i < lb.Length ? lb[i] : "(none)";
            if (x != y) return $"line {i}:\n  whole: {Cut(x)}\n  split: {Cut(y)}";
        }
        return "(same)";
    }

    private static string Cut(string s) => s.Length > 400 ? s[..400] + "..." : s;
}
