using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Flows;

/// <summary>
/// A direction-free 5-tuple: the endpoint that sorts first (address, then port) is <see cref="LowIp"/>.
/// Packets of both directions of a flow map to the same key. Hashes and compares without allocating.
/// </summary>
public readonly struct FlowKey : IEquatable<FlowKey>
{
    public readonly NetAddress LowIp;
    public readonly NetAddress HighIp;
    public readonly ushort LowPort;
    public readonly ushort HighPort;
    public readonly IpProtocol Protocol;

    private FlowKey(NetAddress lowIp, ushort lowPort, NetAddress highIp, ushort highPort, IpProtocol protocol)
    {
        LowIp = lowIp;
        LowPort = lowPort;
        HighIp = highIp;
        HighPort = highPort;
        Protocol = protocol;
    }

    public static FlowKey From(in DecodedPacket p) =>
        Create(p.Source, p.SourcePort, p.Destination, p.DestinationPort, p.Protocol);

    public static FlowKey Create(NetAddress a, ushort aPort, NetAddress b, ushort bPort, IpProtocol protocol)
    {
        int c = a.CompareTo(b);
        bool aFirst = c < 0 || (c == 0 && aPort <= bPort);
        return aFirst ? new FlowKey(a, aPort, b, bPort, protocol) : new FlowKey(b, bPort, a, aPort, protocol);
    }

    public bool Equals(FlowKey o) =>
        LowPort == o.LowPort && HighPort == o.HighPort && Protocol == o.Protocol && LowIp.Equals(o.LowIp) && HighIp.Equals(o.HighIp);

    public override bool Equals(object? obj) => obj is FlowKey o && Equals(o);

    public override int GetHashCode() =>
        HashCode.Combine(LowIp.Low, LowIp.High, HighIp.Low, HighIp.High, LowPort | (HighPort << 16), (int)Protocol);

    public override string ToString() => $"{Protocol} {LowIp}:{LowPort} <-> {HighIp}:{HighPort}";
}
