using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// A download to a client whose application stops reading: the advertised window shrinks as data
/// arrives until the server fills it exactly and the client advertises zero (RFC 9293 3.8.6.1).
/// The server sends one-byte zero-window probes at growing intervals, the client answers each with
/// a zero-window ACK, then its application reads and a window update reopens the transfer.
/// </summary>
internal sealed class ZeroWindowScript : TcpConversationScript
{
    // Segment and window sizes are multiples of 128 (the client's 2^7 window scale), so every
    // advertised window is exact and the last segment before the stall fills the window to the byte.
    private const int SegmentSize = 1408, InitialWindow = SegmentSize * 20 + 640, ResponseBytes = 90_000;
    private readonly string _host;

    public ZeroWindowScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port, long rttNs, string host)
        : base(context, startNs, client, server, port, false, rttNs)
    {
        _host = host;
        Client.SegmentSize = Server.SegmentSize = SegmentSize;
        Client.WindowBytes = InitialWindow;
        PlannedBytes = ResponseBytes + 8000;
        context.Summary.Http1Exchanges++;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        var get = new HttpExchangePlan("GET", "/api/v1/orders/export.ndjson", 200, "application/x-ndjson",
            Context.Payloads.StaticAsset.AsMemory(100_000, ResponseBytes));
        foreach (int step in Transfer(Client, Http1Messages.Request(get, _host, "report-job/1.0", HttpConversationScript.BearerToken(Rng), "zw-1"), ackLast: false)) yield return step;
        Now += Jitter(RttNs) + Jitter(3_000_000);

        byte[] head = Http1Messages.ResponseHead(get, DateTimeOffset.FromUnixTimeMilliseconds(Now / 1_000_000), get.ResponseBody.Length);
        byte[] response = LossyTransferScript.Concat(head, get.ResponseBody.Span);
        uint seq0 = Server.Next;
        int sent = 0, unread = 0, index = 0;
        long t = Now;
        while (unread < InitialWindow)
        {
            int length = Math.Min(SegmentSize, InitialWindow - unread);
            Emit(Server, TcpFlags.Ack, t, response.AsSpan(sent, length), seq: seq0 + (uint)sent);
            yield return 0;
            sent += length;
            unread += length;
            index++;
            if (index % 2 == 0 || unread == InitialWindow)
            {
                Client.WindowBytes = InitialWindow - unread;
                Emit(Client, TcpFlags.Ack, t + Jitter(10_000));
                yield return 0;
            }
            t = Now + Jitter(SegmentGapNs(length), 0.05);
        }

        // Zero-window probes: one byte of new data, dropped by the receiver and answered with the
        // unchanged ACK and zero window. The probe does not advance the sender's SND.NXT.
        long interval = 200_000_000 + 2 * RttNs;
        for (int probe = 0; probe < 3; probe++)
        {
            Emit(Server, TcpFlags.Ack, Now + Jitter(interval, 0.02), response.AsSpan(sent, 1), seq: seq0 + (uint)sent, delivered: false);
            Server.Next = seq0 + (uint)sent;
            yield return 0;
            Emit(Client, TcpFlags.Ack, Now + Jitter(10_000));
            yield return 0;
            interval *= 2;
        }

        // The application drains its buffer: a window update with the same ACK number.
        Client.WindowBytes = 65536 * 4;
        Emit(Client, TcpFlags.Ack, Now + Jitter(150_000_000));
        yield return 0;
        Now += Jitter(RttNs);
        foreach (int step in Transfer(Server, response.AsMemory(sent))) yield return step;
        foreach (int step in Close()) yield return step;
    }
}
