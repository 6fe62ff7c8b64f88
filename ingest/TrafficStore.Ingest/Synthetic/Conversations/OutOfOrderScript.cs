using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// A response whose sixth segment overtakes the fifth on the way (as across two ECMP paths): the
/// client SACKs the early one with a duplicate ACK, the late one arrives a few tens of
/// microseconds later, well inside one round trip, and the ACK jumps over both.
/// </summary>
internal sealed class OutOfOrderScript : TcpConversationScript
{
    private const int Segments = 12, LateIndex = 5;
    private readonly string _host;

    public OutOfOrderScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port, long rttNs, string host)
        : base(context, startNs, client, server, port, false, rttNs)
    {
        _host = host;
        PlannedBytes = Segments * 1520 + 2000;
        context.Summary.Http1Exchanges++;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        var get = new HttpExchangePlan("GET", "/api/v1/orders/export", 200, "application/json",
            Context.Payloads.ExportJson.AsMemory(0, Segments * Server.SegmentSize - 400));
        foreach (int step in Transfer(Client, Http1Messages.Request(get, _host, "frontend/2.4.1", HttpConversationScript.BearerToken(Rng), "ooo-1"), ackLast: false)) yield return step;
        Now += Jitter(RttNs) + Jitter(1_500_000);
        byte[] response = LossyTransferScript.Concat(
            Http1Messages.ResponseHead(get, DateTimeOffset.FromUnixTimeMilliseconds(Now / 1_000_000), get.ResponseBody.Length), get.ResponseBody.Span);

        int mss = Server.SegmentSize;
        int count = (response.Length + mss - 1) / mss;
        uint seq0 = Server.Next;
        long t = Now;
        for (int k = 0; k < count; k++)
        {
            // Delivery order: ..., 4, 6, 5, 7, ...
            int i = k == LateIndex ? LateIndex + 1 : k == LateIndex + 1 ? LateIndex : k;
            int offset = i * mss, length = Math.Min(mss, response.Length - offset);
            bool last = offset + length == response.Length;
            Emit(Server, last ? TcpFlags.Ack | TcpFlags.Psh : TcpFlags.Ack, t, response.AsSpan(offset, length), seq: seq0 + (uint)offset);
            yield return 0;
            if (k == LateIndex)
            {
                Emit(Client, TcpFlags.Ack, t + Jitter(6_000), sackLeft: seq0 + (uint)offset, sackRight: seq0 + (uint)(offset + length));
                yield return 0;
                t = Now + Jitter(40_000, 0.1);
                continue;
            }
            if (k == LateIndex + 1)
            {
                Client.ReceiveNext = seq0 + (uint)((LateIndex + 2) * mss);
                Emit(Client, TcpFlags.Ack, t + Jitter(6_000));
                yield return 0;
            }
            else if (k % 2 == 1 || last)
            {
                Emit(Client, TcpFlags.Ack, t + Jitter(8_000));
                yield return 0;
            }
            t = Now + Jitter(SegmentGapNs(length), 0.05);
        }
        Server.Next = seq0 + (uint)response.Length;
        Client.ReceiveNext = Server.Next;
        Now += Jitter(20_000_000);
        foreach (int step in Close()) yield return step;
    }
}
