using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// A download that loses one server segment before the capture point: the client sends duplicate
/// ACKs with SACK blocks for every later segment, and the server fast-retransmits after the third
/// (RFC 5681 section 3.2). Then a client request is lost after the capture point and resent when
/// the retransmission timer fires (RFC 6298), so the capture shows it twice.
/// </summary>
internal sealed class LossyTransferScript : TcpConversationScript
{
    private const int Segments = 40, LostIndex = 14, SegmentsAfterLoss = 5;
    private readonly string _host;

    public LossyTransferScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port, long rttNs, string host)
        : base(context, startNs, client, server, port, false, rttNs)
    {
        _host = host;
        PlannedBytes = Segments * 1520 + 3000;
        context.Summary.Http1Exchanges += 2;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        string token = HttpConversationScript.BearerToken(Rng);
        var get = new HttpExchangePlan("GET", "/static/vendor.3f9a1c.js", 200, "application/javascript",
            Context.Payloads.StaticAsset.AsMemory(0, Segments * Server.SegmentSize - 300));
        foreach (int step in Transfer(Client, Http1Messages.Request(get, _host, "frontend/2.4.1", token, "lossy-1"), ackLast: false)) yield return step;

        Now += Jitter(RttNs) + Jitter(1_000_000);
        byte[] response = Concat(Http1Messages.ResponseHead(get, DateTimeOffset.FromUnixTimeMilliseconds(Now / 1_000_000), get.ResponseBody.Length), get.ResponseBody.Span);
        int mss = Server.SegmentSize;
        uint seq0 = Server.Next;
        long t = Now;
        long thirdDupAckAt = 0;
        int highestEnd = 0;
        for (int i = 0; i < LostIndex + 1 + SegmentsAfterLoss; i++)
        {
            int offset = i * mss, length = Math.Min(mss, response.Length - offset);
            if (i == LostIndex)
            {
                // Lost between the server and the capture point: never seen, never delivered.
                Server.Next = seq0 + (uint)(offset + length);
                t += SegmentGapNs(length);
                continue;
            }
            Emit(Server, TcpFlags.Ack, t, response.AsSpan(offset, length), seq: seq0 + (uint)offset);
            yield return 0;
            highestEnd = offset + length;
            if (i > LostIndex)
            {
                // Every segment above the hole repeats the same ACK, SACKing what did arrive.
                int lostEnd = (LostIndex + 1) * mss;
                Emit(Client, TcpFlags.Ack, t + Jitter(8_000), sackLeft: seq0 + (uint)lostEnd, sackRight: seq0 + (uint)highestEnd);
                if (i == LostIndex + 3) thirdDupAckAt = Now;
                yield return 0;
            }
            else if (i % 2 == 1)
            {
                Emit(Client, TcpFlags.Ack, t + Jitter(8_000));
                yield return 0;
            }
            t = Now + Jitter(SegmentGapNs(length), 0.05);
        }

        // The third duplicate ACK reaches the server half a round trip later; its retransmission
        // reaches us after the other half.
        int lostOffset = LostIndex * mss;
        Emit(Server, TcpFlags.Ack, Math.Max(Now, thirdDupAckAt) + Jitter(RttNs), response.AsSpan(lostOffset, mss), seq: seq0 + (uint)lostOffset);
        yield return 0;
        Client.ReceiveNext = seq0 + (uint)highestEnd;
        Emit(Client, TcpFlags.Ack, Now + Jitter(10_000));
        yield return 0;

        Server.Next = seq0 + (uint)highestEnd;
        foreach (int step in Transfer(Server, response.AsMemory(highestEnd))) yield return step;

        // A request that dies after the capture point, resent after the 200 ms minimum RTO.
        Now += Jitter(80_000_000);
        var post = new HttpExchangePlan("POST", "/api/v1/cart/items", 201, "application/json", Context.Payloads.OrdersJson.AsMemory(0, 120),
            RequestBody: "{\"sku\":\"SKU-20931\",\"qty\":1}"u8.ToArray());
        byte[] request = Http1Messages.Request(post, _host, "frontend/2.4.1", token, "lossy-2");
        uint requestSeq = Client.Next;
        Emit(Client, TcpFlags.Ack | TcpFlags.Psh, Now, request, delivered: false);
        yield return 0;
        Emit(Client, TcpFlags.Ack | TcpFlags.Psh, Now + Jitter(RttNs * 2 + 200_000_000, 0.02), request, seq: requestSeq);
        yield return 0;
        Now += Jitter(RttNs) + Jitter(2_000_000);
        byte[] head = Http1Messages.ResponseHead(post, DateTimeOffset.FromUnixTimeMilliseconds(Now / 1_000_000), post.ResponseBody.Length);
        foreach (int step in Transfer(Server, head, post.ResponseBody)) yield return step;
        foreach (int step in Close()) yield return step;
    }

    internal static byte[] Concat(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var c = new byte[a.Length + b.Length];
        a.CopyTo(c);
        b.CopyTo(c.AsSpan(a.Length));
        return c;
    }
}
