using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http2;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>
/// The real HTTP/2 connections of the corpus, recorded as the pipeline hands them to the parser,
/// replayed as recorded, byte by byte and in 1000-octet pieces: identical rows every time.
/// </summary>
public class Http2CorpusSplitTests
{
    private sealed record Call(FlowContext Flow, FlowDirection Direction, byte[]? Data, long Gap, SegmentInfo Segment);

    /// <summary>Wraps <see cref="Http2Protocol"/> and records every call its parsers get.</summary>
    private sealed class RecordingProtocol : IStreamProtocol
    {
        private readonly Http2Protocol _inner = new(new ListSink<HttpExchange>());
        public List<Call> Calls { get; } = new();
        public string Name => _inner.Name;
        public bool IsWellKnownPort(ushort serverPort) => _inner.IsWellKnownPort(serverPort);
        public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes) => _inner.Classify(direction, firstBytes);
        public IStreamParser CreateParser(FlowContext flow) => new Recorder(flow, Calls);

        private sealed class Recorder(FlowContext flow, List<Call> calls) : IStreamParser
        {
            public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment) => calls.Add(new(flow, direction, data.ToArray(), 0, segment));
            public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => calls.Add(new(flow, direction, null, missingBytes, segment));
            public void OnEnd(long timestampNs) => calls.Add(new(flow, FlowDirection.ClientToServer, null, -1, new SegmentInfo(0, timestampNs)));
        }
    }

    [Theory]
    [InlineData("h2c-nghttp2-prior-knowledge.pcap")]
    [InlineData("grpc-unary-h2c.pcapng")]
    [InlineData("grpc-bidi-streaming-h2c.pcapng")]
    public void CorpusConnectionsAreSplitInvariant(string capture)
    {
        var recording = new RecordingProtocol();
        var pipeline = new IngestPipeline(new ListSink<ConnectionRecord>(), new IStreamProtocol[] { recording });
        using (var source = CaptureFile.Open(SharedData.Pcap(capture))) pipeline.Run(source);
        Assert.NotEmpty(recording.Calls);

        string asRecorded = Replay(recording.Calls, int.MaxValue);
        Assert.Contains("proto=HTTP/2", asRecorded);
        Assert.Equal(asRecorded, Replay(recording.Calls, 1));
        Assert.Equal(asRecorded, Replay(recording.Calls, 1000));
    }

    private static string Replay(List<Call> calls, int piece)
    {
        var sink = new ListSink<HttpExchange>();
        var protocol = new Http2Protocol(sink);
        var parsers = new Dictionary<FlowContext, IStreamParser>();
        foreach (var call in calls)
        {
            if (!parsers.TryGetValue(call.Flow, out var parser)) parsers[call.Flow] = parser = protocol.CreateParser(call.Flow);
            if (call.Data is { } data)
                for (int at = 0; at < data.Length; at += piece) parser.OnData(call.Direction, data.AsSpan(at, Math.Min(piece, data.Length - at)), call.Segment);
            else if (call.Gap >= 0) parser.OnGap(call.Direction, call.Gap, call.Segment);
            else parser.OnEnd(call.Segment.TimestampNs);
        }
        return H2.Describe(sink.Rows);
    }
}
