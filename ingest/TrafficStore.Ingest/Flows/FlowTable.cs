using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.TcpAnalysis;

namespace TrafficStore.Ingest.Flows;

/// <summary>
/// Maps packets to TCP connections and UDP flows and numbers them like tshark: tcp.stream and
/// udp.stream count from 0 in order of first appearance. A SYN (without ACK) whose ISN differs from
/// the base sequence number of its side starts a new TCP stream on the same 5-tuple (port reuse,
/// rules §1); nothing else splits a stream. Lookups do not allocate; each flow object is allocated once.
/// </summary>
public sealed class FlowTable
{
    private readonly Dictionary<FlowKey, TcpConnection> _tcp = new();
    private readonly Dictionary<FlowKey, UdpFlow> _udp = new();
    private readonly long _maxBufferedBytes;
    // The connection of the previous TCP packet: captures come in bursts of one connection
    // (a window of data, its ACKs), and comparing one key is cheaper than hashing and probing.
    private TcpConnection? _lastTcp;

    public FlowTable(long maxReassemblyBytesPerDirection = 1 << 20)
    {
        _maxBufferedBytes = maxReassemblyBytesPerDirection;
    }

    public long TcpStreams { get; private set; }
    public long UdpStreams { get; private set; }
    public int ActiveTcp => _tcp.Count;
    public int ActiveUdp => _udp.Count;

    /// <summary>
    /// The connection <paramref name="p"/> belongs to. <paramref name="replaced"/> is the older
    /// connection on the same 5-tuple that a port-reusing SYN just ended (null otherwise);
    /// <paramref name="isNew"/> is true for the first packet of a connection.
    /// </summary>
    public TcpConnection GetTcp(in DecodedPacket p, out int side, out bool isNew, out TcpConnection? replaced)
    {
        var key = FlowKey.From(p);
        replaced = null;
        var conn = _lastTcp;
        if ((conn is not null && conn.Key.Equals(key)) || _tcp.TryGetValue(key, out conn))
        {
            side = conn.SideOf(p);
            if (!conn.Analysis.StartsNewConversation(p, side))
            {
                isNew = false;
                _lastTcp = conn;
                return conn;
            }
            replaced = conn;
        }
        conn = new TcpConnection(TcpStreams++, key, p, _maxBufferedBytes);
        _tcp[key] = conn;
        _lastTcp = conn;
        side = 0;
        isNew = true;
        return conn;
    }

    public UdpFlow GetUdp(in DecodedPacket p, out bool isNew)
    {
        var key = FlowKey.From(p);
        if (_udp.TryGetValue(key, out var flow))
        {
            isNew = false;
            return flow;
        }
        flow = new UdpFlow(UdpStreams++, key, p);
        _udp[key] = flow;
        isNew = true;
        return flow;
    }

    /// <summary>Removes and returns every flow idle since before <paramref name="idleSinceNs"/> (live captures).</summary>
    /// <param name="closedQuietSinceNs">Closed TCP connections (RST, or FIN both ways) quiet since before this go too.</param>
    public void RemoveIdle(long idleSinceNs, List<TcpConnection> tcpOut, List<UdpFlow> udpOut, long closedQuietSinceNs = long.MinValue)
    {
        _lastTcp = null;
        foreach (var (key, conn) in _tcp)
        {
            if (conn.LastTimestampNs < idleSinceNs || (conn.Closed && conn.LastTimestampNs < closedQuietSinceNs))
            {
                tcpOut.Add(conn);
                _tcp.Remove(key);
            }
        }
        foreach (var (key, flow) in _udp)
        {
            if (flow.LastTimestampNs < idleSinceNs) { udpOut.Add(flow); _udp.Remove(key); }
        }
    }

    /// <summary>Removes and returns every flow still open (end of capture).</summary>
    public void RemoveAll(List<TcpConnection> tcpOut, List<UdpFlow> udpOut)
    {
        _lastTcp = null;
        tcpOut.AddRange(_tcp.Values);
        udpOut.AddRange(_udp.Values);
        _tcp.Clear();
        _udp.Clear();
    }
}
