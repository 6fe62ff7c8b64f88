using TrafficStore.Ingest.Decode;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Per-connection counters for the connection_timeline table: one row per connection and active
/// second with the cumulative counters at the end of that second. A row is emitted once the
/// connection's next active second starts (its end is then known) or at the end of the capture.
/// The client is decided like the connections table's client_rule: the sender of a first pure SYN,
/// the receiver of a first SYN-ACK, else the sender of the first packet.
/// </summary>
public sealed class ConnectionTimeline(Action<TimelineRow, ConnectionEnds> emit)
{
    private const long Second = 1_000_000_000L;
    private readonly Dictionary<long, State> _connections = new();

    /// <summary>First packet time and the two ends of every connection seen, for enrichment.</summary>
    public bool TryGetEnds(long connectionId, out ConnectionEnds ends)
    {
        if (_connections.TryGetValue(connectionId, out var s)) { ends = s.Ends; return true; }
        ends = default;
        return false;
    }

    public void Add(in DecodedPacket p, long connectionId)
    {
        long second = Math.DivRem(p.TimestampNs, Second, out long rem) * Second;
        if (rem < 0) second -= Second;
        if (!_connections.TryGetValue(connectionId, out var s))
        {
            bool serverSent = p.IsTcp && p.HasFlag(TcpFlags.Syn) && p.HasFlag(TcpFlags.Ack);
            s = new State
            {
                Ends = serverSent
                    ? new ConnectionEnds(p.TimestampNs, p.Destination, p.DestinationPort, p.Source, p.SourcePort)
                    : new ConnectionEnds(p.TimestampNs, p.Source, p.SourcePort, p.Destination, p.DestinationPort),
                Transport = p.IsTcp ? "tcp" : "udp",
                Second = second,
            };
            _connections[connectionId] = s;
        }
        else if (second > s.Second)
        {
            EmitRow(connectionId, s, endNs: second - 1);
            s.Second = second;
        }
        bool c2s = p.Source == s.Ends.ClientIp && p.SourcePort == s.Ends.ClientPort;
        if (c2s) { s.PacketsC2S++; s.BytesC2S += p.FrameLength; s.PayloadC2S += p.PayloadLength; }
        else { s.PacketsS2C++; s.BytesS2C += p.FrameLength; s.PayloadS2C += p.PayloadLength; }
        if (p.IsTcp)
        {
            if (p.HasFlag(TcpFlags.Syn)) s.Syn++;
            if (p.HasFlag(TcpFlags.Fin)) s.Fin++;
            if (p.HasFlag(TcpFlags.Rst)) s.Rst++;
            if (p.PayloadLength > 0)
            {
                // Sequence space wraps at 2^32: compare by signed difference (RFC 9293 §3.4).
                uint end = unchecked(p.Sequence + (uint)p.PayloadLength);
                ref uint highest = ref c2s ? ref s.HighestEndC2S : ref s.HighestEndS2C;
                ref bool seen = ref c2s ? ref s.SeenC2S : ref s.SeenS2C;
                if (seen && unchecked((int)(end - highest)) <= 0) s.Retransmissions++;
                else { highest = end; seen = true; }
            }
        }
        s.Dirty = true;
    }

    /// <summary>Emits the last row of every connection (valid to the end of its last active second).</summary>
    public void Complete()
    {
        foreach (var (id, s) in _connections) if (s.Dirty) EmitRow(id, s, s.Second + Second - 1);
        _connections.Clear();
    }

    /// <summary>
    /// Emits a connection's last row and forgets it: a long-running capture (the node agent) calls
    /// this when the connection's own row leaves, so the state does not outlive the connection.
    /// </summary>
    public void Complete(long connectionId)
    {
        if (!_connections.Remove(connectionId, out var s)) return;
        if (s.Dirty) EmitRow(connectionId, s, s.Second + Second - 1);
    }

    private void EmitRow(long connectionId, State s, long endNs)
    {
        emit(new TimelineRow
        {
            StartNs = s.Second,
            EndNs = endNs,
            ConnectionId = connectionId,
            Transport = s.Transport,
            PacketsC2S = s.PacketsC2S,
            PacketsS2C = s.PacketsS2C,
            BytesC2S = s.BytesC2S,
            BytesS2C = s.BytesS2C,
            PayloadC2S = s.PayloadC2S,
            PayloadS2C = s.PayloadS2C,
            Syn = s.Syn,
            Fin = s.Fin,
            Rst = s.Rst,
            Retransmissions = s.Retransmissions,
        }, s.Ends);
        s.Dirty = false;
    }

    private sealed class State
    {
        public ConnectionEnds Ends;
        public required string Transport;
        public long Second;
        public long PacketsC2S, PacketsS2C, BytesC2S, BytesS2C, PayloadC2S, PayloadS2C, Syn, Fin, Rst, Retransmissions;
        public uint HighestEndC2S, HighestEndS2C;
        public bool SeenC2S, SeenS2C, Dirty;
    }
}

/// <summary>A connection's first packet time and its client and server ends.</summary>
public readonly record struct ConnectionEnds(long FirstNs, NetAddress ClientIp, ushort ClientPort, NetAddress ServerIp, ushort ServerPort);
