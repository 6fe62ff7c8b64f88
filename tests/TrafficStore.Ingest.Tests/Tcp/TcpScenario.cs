using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.TcpAnalysis;

namespace TrafficStore.Ingest.Tests.TcpAnalysis;

/// <summary>
/// Builds TCP packets between a client (10.0.0.1:40000) and a server (10.0.0.2:80) and runs them
/// through the flow table and the analysis, keeping each packet's verdict.
/// </summary>
public sealed class TcpScenario
{
    public static readonly NetAddress ClientIp = NetAddress.Parse("10.0.0.1");
    public static readonly NetAddress ServerIp = NetAddress.Parse("10.0.0.2");
    public const ushort ClientPort = 40000;
    public const ushort ServerPort = 80;

    private readonly FlowTable _flows = new();
    private readonly List<TcpConnection> _connections = new();
    private long _frame;

    public List<TcpPacketVerdict> Verdicts { get; } = new();
    public List<long> Streams { get; } = new();

    public const TcpFlags S = TcpFlags.Syn;
    public const TcpFlags SA = TcpFlags.Syn | TcpFlags.Ack;
    public const TcpFlags A = TcpFlags.Ack;
    public const TcpFlags PA = TcpFlags.Psh | TcpFlags.Ack;
    public const TcpFlags FA = TcpFlags.Fin | TcpFlags.Ack;
    public const TcpFlags R = TcpFlags.Rst;
    public const TcpFlags RA = TcpFlags.Rst | TcpFlags.Ack;

    public static DecodedPacket Packet(bool fromClient, double ms, uint seq, uint ack, TcpFlags flags, int len = 0, ushort win = 1000,
        sbyte wscale = -1, ushort mss = 0, int captured = -1, long frame = 0) => new()
    {
        FrameNumber = frame,
        TimestampNs = 1_700_000_000_000_000_000 + (long)Math.Round(ms * 1_000_000),
        FrameLength = 54 + len,
        IpVersion = 4,
        Source = fromClient ? ClientIp : ServerIp,
        Destination = fromClient ? ServerIp : ClientIp,
        Protocol = IpProtocol.Tcp,
        SourcePort = fromClient ? ClientPort : ServerPort,
        DestinationPort = fromClient ? ServerPort : ClientPort,
        Sequence = seq,
        Acknowledgment = ack,
        Flags = flags,
        Window = win,
        TcpHeaderLength = 20,
        Mss = mss,
        WindowScale = wscale,
        PayloadLength = len,
        CapturedPayloadLength = captured < 0 ? len : captured,
        VlanId = -1,
    };

    public TcpPacketVerdict C(double ms, uint seq, uint ack, TcpFlags flags, int len = 0, ushort win = 1000, sbyte wscale = -1, int captured = -1) =>
        Run(Packet(true, ms, seq, ack, flags, len, win, wscale, 0, captured));

    public TcpPacketVerdict Sv(double ms, uint seq, uint ack, TcpFlags flags, int len = 0, ushort win = 1000, sbyte wscale = -1, int captured = -1) =>
        Run(Packet(false, ms, seq, ack, flags, len, win, wscale, 0, captured));

    public TcpPacketVerdict Run(DecodedPacket p)
    {
        p.FrameNumber = ++_frame;
        var conn = _flows.GetTcp(p, out int side, out bool isNew, out var replaced);
        if (isNew) _connections.Add(conn);
        byte[] payload = new byte[Math.Max(p.CapturedPayloadLength, 0)];
        var v = conn.Process(p, payload, side, replaced is not null);
        Verdicts.Add(v);
        Streams.Add(conn.Stream);
        return v;
    }

    public IReadOnlyList<TcpConnection> Connections => _connections;

    public ConnectionRecord Record(int stream = 0) => _connections[stream].ToRecord();

    /// <summary>The usual handshake: client ISN 1000, server ISN 5000, at 0, 10 and 20 ms.</summary>
    public void Handshake(sbyte clientScale = -1, sbyte serverScale = -1)
    {
        C(0, 1000, 0, S, wscale: clientScale);
        Sv(10, 5000, 1001, SA, wscale: serverScale);
        C(20, 1001, 5001, A);
    }
}
