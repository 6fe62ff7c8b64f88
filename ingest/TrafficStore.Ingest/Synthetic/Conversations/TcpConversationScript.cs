using System.Buffers.Binary;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// Base of every TCP conversation. The capture point is the client pod's interface: client
/// segments are stamped when sent, server segments when they arrive, so a request and its answer
/// are one round-trip time apart. Sequence/acknowledgment numbers, windows, RFC 7323 timestamps
/// and SACK blocks follow the peers' real state.
/// </summary>
internal abstract class TcpConversationScript : ConversationScript
{
    private readonly List<SegmentPlan> _plan = new();
    private ReadOnlyMemory<byte> _head, _body;

    protected TcpConversationScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server,
        ushort serverPort, bool ipv6, long rttNs) : base(context, startNs)
    {
        Ipv6 = ipv6;
        RttNs = rttNs;
        ushort clientPort = context.Topology.NextEphemeralPort(client);
        Client = new TcpPeer(client, clientPort, (uint)Rng.NextInt64(0, 1L << 32), 64240, 7, (uint)Rng.Next());
        Server = new TcpPeer(server, serverPort, (uint)Rng.NextInt64(0, 1L << 32), 65160, 7, (uint)Rng.Next());
        Client.SegmentSize = Server.SegmentSize = ipv6 ? 1428 : 1448;
        context.Summary.TcpConnections++;
    }

    protected TcpPeer Client { get; }
    protected TcpPeer Server { get; }
    protected bool Ipv6 { get; }
    protected long RttNs { get; }

    /// <summary>Link serialization time of a full segment (about 1 Gbit/s).</summary>
    protected static long SegmentGapNs(int payload) => (payload + 66) * 8L;

    protected TcpPeer PeerOf(TcpPeer p) => ReferenceEquals(p, Client) ? Server : Client;

    /// <summary>
    /// Builds one segment from <paramref name="from"/> into the frame buffer. With
    /// <paramref name="seq"/> null the segment carries new data (SND.NXT advances); otherwise it
    /// is a retransmission or probe at that sequence number. <paramref name="delivered"/> false
    /// means the segment is lost after the capture point (the peer never sees it).
    /// </summary>
    protected void Emit(TcpPeer from, TcpFlags flags, long at, ReadOnlySpan<byte> payload = default,
        uint? seq = null, bool delivered = true, ReadOnlySpan<byte> secondPayload = default,
        uint sackLeft = 0, uint sackRight = 0)
    {
        TcpPeer to = PeerOf(from);
        uint s = seq ?? from.Next;
        int length = payload.Length + secondPayload.Length;
        uint end = s + (uint)length + ((flags & TcpFlags.Syn) != 0 ? 1u : 0) + ((flags & TcpFlags.Fin) != 0 ? 1u : 0);
        if (seq is null) from.Next = end;
        else if ((int)(end - from.Next) > 0) from.Next = end;

        Span<byte> options = stackalloc byte[40];
        uint tsval = from.TimestampBase + (uint)(at / 1_000_000);
        int o = 0;
        if ((flags & TcpFlags.Syn) != 0)
        {
            // Linux SYN option layout: MSS, SACK permitted, timestamps, NOP, window scale
            // (RFC 9293 3.2, RFC 2018, RFC 7323 sections 2 and 3).
            options[o++] = 2; options[o++] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(options[o..], (ushort)(from.SegmentSize + 12)); o += 2;
            options[o++] = 4; options[o++] = 2;
            o = WriteTimestamps(options, o, tsval, (flags & TcpFlags.Ack) != 0 ? from.TimestampEcho : 0);
            options[o++] = 1;
            options[o++] = 3; options[o++] = 3; options[o++] = from.WindowScale;
        }
        else if ((flags & TcpFlags.Rst) == 0)
        {
            options[o++] = 1; options[o++] = 1;
            o = WriteTimestamps(options, o, tsval, from.TimestampEcho);
            if (sackRight != sackLeft)
            {
                // RFC 2018 section 3: NOP, NOP, kind 5, length 10, one left/right edge pair.
                options[o++] = 1; options[o++] = 1; options[o++] = 5; options[o++] = 10;
                BinaryPrimitives.WriteUInt32BigEndian(options[o..], sackLeft); o += 4;
                BinaryPrimitives.WriteUInt32BigEndian(options[o..], sackRight); o += 4;
            }
        }

        int window = (flags & TcpFlags.Syn) != 0
            ? Math.Min(from.WindowBytes, 65535)
            : Math.Min(from.WindowBytes >> from.WindowScale, 65535);
        if ((flags & TcpFlags.Rst) != 0) window = 0;

        var addressing = new FrameAddressing(from.Host, from.Port, to.Host, to.Port, Ipv6);
        int frameLength = FrameBuilder.WriteTcp(Frame, addressing, from.IpId++, s, from.ReceiveNext, flags, (ushort)window, options[..o], payload, secondPayload);
        FrameLength = frameLength;
        TimestampNs = at;
        if (at > Now) Now = at;

        if (delivered)
        {
            to.TimestampEcho = tsval;
            // In-order data moves the receiver's RCV.NXT; a gap leaves it where it is.
            if ((int)(s - to.ReceiveNext) <= 0 && (int)(end - to.ReceiveNext) > 0) to.ReceiveNext = end;
            else if ((flags & TcpFlags.Syn) != 0) to.ReceiveNext = end;
        }
    }

    private static int WriteTimestamps(Span<byte> options, int o, uint tsval, uint tsecr)
    {
        options[o++] = 8; options[o++] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(options[o..], tsval); o += 4;
        BinaryPrimitives.WriteUInt32BigEndian(options[o..], tsecr); o += 4;
        return o;
    }

    /// <summary>SYN, SYN-ACK one RTT later, ACK right after it (RFC 9293 section 3.5).</summary>
    protected IEnumerable<int> Handshake()
    {
        Emit(Client, TcpFlags.Syn, Now);
        yield return 0;
        Emit(Server, TcpFlags.Syn | TcpFlags.Ack, Now + Jitter(RttNs));
        yield return 0;
        Emit(Client, TcpFlags.Ack, Now + Jitter(30_000));
        yield return 0;
    }

    /// <summary>
    /// Sends <paramref name="head"/> followed by <paramref name="body"/> from one side, cut into
    /// segments, in slow-start flights (initial window 10 segments, doubling each round trip), with
    /// the receiver acknowledging every second segment. With <paramref name="ackLast"/> false the
    /// final acknowledgment is left to ride on the receiver's answer (as with a request).
    /// </summary>
    protected IEnumerable<int> Transfer(TcpPeer from, ReadOnlyMemory<byte> head, ReadOnlyMemory<byte> body = default,
        bool ackLast = true, long startAt = -1)
    {
        TcpPeer to = PeerOf(from);
        bool fromClient = ReferenceEquals(from, Client);
        _head = head;
        _body = body;
        _plan.Clear();
        int total = head.Length + body.Length;
        long t = startAt >= 0 ? startAt : Now;
        int cwnd = 10, sent = 0, segmentIndex = 0;
        uint seq0 = from.Next;
        int mss = from.SegmentSize;
        long firstAckAt = 0;
        while (sent < total)
        {
            int flight = 0;
            long flightStart = t;
            while (sent < total && flight < cwnd && flight * mss < to.WindowBytes)
            {
                int len = Math.Min(mss, total - sent);
                bool last = sent + len == total;
                _plan.Add(new SegmentPlan(t, fromClient, false, sent, len, last));
                segmentIndex++;
                sent += len;
                flight++;
                // The receiver acknowledges every second full segment, and the last one.
                if (segmentIndex % 2 == 0 || (last && ackLast))
                {
                    long ackAt = fromClient ? t + Jitter(RttNs) : t + Jitter(last && segmentIndex % 2 == 1 ? 200_000 : 15_000);
                    _plan.Add(new SegmentPlan(ackAt, !fromClient, true, sent, 0, last));
                    if (firstAckAt == 0) firstAckAt = ackAt;
                }
                t += Jitter(SegmentGapNs(len), 0.05);
            }
            cwnd *= 2;
            // The next flight leaves when the first ACK of this one reaches the sender.
            if (sent < total)
            {
                long next = fromClient ? Math.Max(t, firstAckAt) : flightStart + Jitter(RttNs) + (t - flightStart);
                t = Math.Max(t, next);
                firstAckAt = 0;
            }
        }
        SortByTime(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_plan));

        foreach (SegmentPlan p in _plan)
        {
            if (p.IsAck)
            {
                TcpPeer acker = p.FromClient ? Client : Server;
                acker.ReceiveNext = seq0 + (uint)p.Offset;
                Emit(acker, TcpFlags.Ack, p.At);
            }
            else
            {
                TcpPeer sender = p.FromClient ? Client : Server;
                int start = p.Offset, len = p.Length;
                ReadOnlySpan<byte> first = default, second = default;
                if (start < _head.Length)
                {
                    int inHead = Math.Min(len, _head.Length - start);
                    first = _head.Span.Slice(start, inHead);
                    if (inHead < len) second = _body.Span.Slice(0, len - inHead);
                }
                else first = _body.Span.Slice(start - _head.Length, len);
                // Remember the receiver's RCV.NXT: Emit would move it, but the ACK plan decides.
                TcpPeer receiver = PeerOf(sender);
                uint rcv = receiver.ReceiveNext;
                Emit(sender, p.IsLast ? TcpFlags.Ack | TcpFlags.Psh : TcpFlags.Ack, p.At, first, seq: seq0 + (uint)start, secondPayload: second);
                receiver.ReceiveNext = rcv;
            }
            yield return 0;
        }
        to.ReceiveNext = seq0 + (uint)total;
        from.Next = seq0 + (uint)total;
    }

    /// <summary>Orderly close: the closer's FIN, the peer's FIN-ACK one RTT later, the last ACK.</summary>
    protected IEnumerable<int> Close(bool clientFirst = true)
    {
        TcpPeer first = clientFirst ? Client : Server;
        TcpPeer second = PeerOf(first);
        Emit(first, TcpFlags.Fin | TcpFlags.Ack, Now + Jitter(clientFirst ? 50_000 : 200_000));
        yield return 0;
        Emit(second, TcpFlags.Fin | TcpFlags.Ack, Now + Jitter(clientFirst ? RttNs : 60_000));
        yield return 0;
        Emit(first, TcpFlags.Ack, Now + Jitter(clientFirst ? 20_000 : RttNs));
        yield return 0;
    }

    /// <summary>
    /// Insertion sort: data segments and ACKs are each already in time order and interleave only
    /// locally, so this is linear in practice (and stable, unlike Array.Sort).
    /// </summary>
    private static void SortByTime(Span<SegmentPlan> plan)
    {
        for (int i = 1; i < plan.Length; i++)
        {
            SegmentPlan item = plan[i];
            int j = i - 1;
            while (j >= 0 && plan[j].At > item.At) { plan[j + 1] = plan[j]; j--; }
            plan[j + 1] = item;
        }
    }

    private readonly record struct SegmentPlan(long At, bool FromClient, bool IsAck, int Offset, int Length, bool IsLast);
}
