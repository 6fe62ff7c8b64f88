using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Flows;

/// <summary>
/// One UDP flow (tshark's udp.stream): all datagrams of a 5-tuple in either direction. The client
/// is the source of the first datagram. Allocated once per flow.
/// </summary>
public sealed class UdpFlow
{
    private long _packets0, _packets1, _bytes0, _bytes1, _payload0, _payload1;

    public UdpFlow(long stream, FlowKey key, in DecodedPacket first)
    {
        Stream = stream;
        Key = key;
        ClientIp = first.Source;
        ClientPort = first.SourcePort;
        ServerIp = first.Destination;
        ServerPort = first.DestinationPort;
        FirstTimestampNs = first.TimestampNs;
        LastTimestampNs = first.TimestampNs;
    }

    public long Stream { get; }
    /// <summary>Position among all flows (TCP and UDP) in order of first packet; rows are emitted in this order.</summary>
    public long AppearanceIndex { get; set; }
    public long ConnectionId => ConnectionRecord.UdpConnectionIdBase + Stream;
    public FlowKey Key { get; }
    public NetAddress ClientIp { get; }
    public ushort ClientPort { get; }
    public NetAddress ServerIp { get; }
    public ushort ServerPort { get; }
    public long FirstTimestampNs { get; }
    public long LastTimestampNs { get; private set; }

    public FlowDirection DirectionOf(in DecodedPacket p) =>
        p.SourcePort == ClientPort && p.Source == ClientIp ? FlowDirection.ClientToServer : FlowDirection.ServerToClient;

    public FlowDirection Add(in DecodedPacket p)
    {
        var d = DirectionOf(p);
        long payload = Math.Max(p.PayloadLength, 0);
        if (d == FlowDirection.ClientToServer) { _packets0++; _bytes0 += p.FrameLength; _payload0 += payload; }
        else { _packets1++; _bytes1 += p.FrameLength; _payload1 += payload; }
        LastTimestampNs = p.TimestampNs;
        return d;
    }

    public ConnectionRecord ToRecord(bool idleTimedOut)
    {
        return new ConnectionRecord
        {
            Transport = Transport.Udp,
            Stream = Stream,
            ConnectionId = ConnectionId,
            ClientIp = ClientIp,
            ClientPort = ClientPort,
            ServerIp = ServerIp,
            ServerPort = ServerPort,
            ClientRule = ClientRule.FirstPacket,
            FirstTimestampNs = FirstTimestampNs,
            LastTimestampNs = LastTimestampNs,
            PacketsC2S = _packets0,
            PacketsS2C = _packets1,
            BytesC2S = _bytes0,
            BytesS2C = _bytes1,
            PayloadC2S = _payload0,
            PayloadS2C = _payload1,
            UniquePayloadC2S = _payload0,
            UniquePayloadS2C = _payload1,
            DataPackets = _packets0 + _packets1,
            CloseReason = idleTimedOut ? CloseReason.IdleTimeout : CloseReason.OpenAtEnd,
            Health = HealthClass.Healthy,
        };
    }
}
