using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>
/// Wraps a protocol so that everything the pipeline feeds its parsers is also recorded per
/// connection: the real reassembled corpus payloads, for replaying mutated copies.
/// </summary>
public sealed class RecordingStreamProtocol(IStreamProtocol inner) : IStreamProtocol
{
    public List<(FlowContext Flow, List<StreamChunk> Chunks)> Connections { get; } = new();

    public string Name => inner.Name;
    public bool IsWellKnownPort(ushort serverPort) => inner.IsWellKnownPort(serverPort);
    public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes) => inner.Classify(direction, firstBytes);

    public IStreamParser CreateParser(FlowContext flow)
    {
        var chunks = new List<StreamChunk>();
        Connections.Add((flow, chunks));
        return new Recorder(inner.CreateParser(flow), chunks);
    }

    private sealed class Recorder(IStreamParser parser, List<StreamChunk> chunks) : IStreamParser
    {
        public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
        {
            chunks.Add(new StreamChunk(direction, data.ToArray(), segment));
            parser.OnData(direction, data, segment);
        }

        public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => parser.OnGap(direction, missingBytes, segment);
        public void OnEnd(long timestampNs) => parser.OnEnd(timestampNs);
    }
}

public sealed class RecordingDatagramProtocol(IDatagramProtocol inner) : IDatagramProtocol
{
    public List<(FlowContext Flow, List<StreamChunk> Datagrams)> Flows { get; } = new();

    public string Name => inner.Name;
    public bool IsWellKnownPort(ushort port) => inner.IsWellKnownPort(port);
    public ProtocolMatch Classify(ReadOnlySpan<byte> datagram) => inner.Classify(datagram);

    public IDatagramParser CreateParser(FlowContext flow)
    {
        var datagrams = new List<StreamChunk>();
        Flows.Add((flow, datagrams));
        return new Recorder(inner.CreateParser(flow), datagrams);
    }

    private sealed class Recorder(IDatagramParser parser, List<StreamChunk> datagrams) : IDatagramParser
    {
        public void OnDatagram(FlowDirection direction, ReadOnlySpan<byte> datagram, SegmentInfo segment)
        {
            datagrams.Add(new StreamChunk(direction, datagram.ToArray(), segment));
            parser.OnDatagram(direction, datagram, segment);
        }

        public void OnEnd(long timestampNs) => parser.OnEnd(timestampNs);
    }
}
