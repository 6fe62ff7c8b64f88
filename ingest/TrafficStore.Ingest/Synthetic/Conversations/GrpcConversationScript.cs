using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>One unary (or server-streaming) gRPC call: method, reply size and final status.</summary>
internal sealed record GrpcCallPlan(string Method, int RequestBytes, int ResponseMessages, int ResponseBytes, int Status = 0, string? Message = null,
    long ThinkNs = 1_500_000, long IdleAfterNs = 20_000_000);

/// <summary>
/// gRPC over cleartext HTTP/2 with prior knowledge (RFC 9113 section 3.3): the client preface and
/// SETTINGS, the server's SETTINGS and ACKs, then one stream per call (odd ids 1, 3, 5...): request
/// HEADERS + one DATA with END_STREAM; response HEADERS, DATA and trailers with grpc-status.
/// </summary>
internal sealed class GrpcConversationScript : TcpConversationScript
{
    private readonly IReadOnlyList<GrpcCallPlan> _calls;
    private readonly string _authority;

    public GrpcConversationScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port,
        bool ipv6, long rttNs, string authority, IReadOnlyList<GrpcCallPlan> calls)
        : base(context, startNs, client, server, port, ipv6, rttNs)
    {
        _calls = calls;
        _authority = authority;
        long bytes = 600;
        foreach (var c in calls) bytes += c.RequestBytes + c.ResponseBytes * c.ResponseMessages + 500;
        PlannedBytes = bytes;
        context.Summary.GrpcCalls += calls.Count;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        var w = new ByteWriter(512);
        w.Bytes(Http2FrameWriter.Preface);
        Http2FrameWriter.SettingsFrame(w, (0x2, 0), (0x4, 4_194_304), (0x6, 16_384)); // ENABLE_PUSH, INITIAL_WINDOW_SIZE, MAX_HEADER_LIST_SIZE
        Http2FrameWriter.WindowUpdateFrame(w, 0, 4_128_769);
        foreach (int step in Transfer(Client, w.ToArray(), ackLast: false)) yield return step;

        Now += Jitter(RttNs);
        w.Clear();
        Http2FrameWriter.SettingsFrame(w, (0x3, 100), (0x4, 1_048_576), (0x5, 16_384)); // MAX_CONCURRENT_STREAMS, window, MAX_FRAME_SIZE
        Http2FrameWriter.SettingsAck(w);
        foreach (int step in Transfer(Server, w.ToArray(), ackLast: false)) yield return step;

        int streamId = 1;
        bool first = true;
        foreach (GrpcCallPlan call in _calls)
        {
            Now += first ? Jitter(30_000) : 0;
            w.Clear();
            if (first) Http2FrameWriter.SettingsAck(w);
            first = false;
            Http2FrameWriter.HeadersFrame(w, streamId, false,
                (":method", "POST"), (":scheme", "http"), (":path", call.Method), (":authority", _authority),
                ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "5S"),
                ("user-agent", "grpc-go/1.64.0"));
            Http2FrameWriter.GrpcDataFrame(w, streamId, true, ProtobufLike(call.RequestBytes));
            foreach (int step in Transfer(Client, w.ToArray(), ackLast: false)) yield return step;

            Now += Jitter(RttNs) + Jitter(call.ThinkNs, 0.5);
            w.Clear();
            Http2FrameWriter.HeadersFrame(w, streamId, false, (":status", "200"), ("content-type", "application/grpc"), ("grpc-encoding", "identity"));
            if (call.Status == 0)
                for (int m = 0; m < call.ResponseMessages; m++) Http2FrameWriter.GrpcDataFrame(w, streamId, false, ProtobufLike(call.ResponseBytes));
            if (call.Message is null) Http2FrameWriter.HeadersFrame(w, streamId, true, ("grpc-status", call.Status.ToString()));
            else Http2FrameWriter.HeadersFrame(w, streamId, true, ("grpc-status", call.Status.ToString()), ("grpc-message", call.Message));
            foreach (int step in Transfer(Server, w.ToArray())) yield return step;
            streamId += 2;
            Now += Jitter(call.IdleAfterNs, 0.3);
        }
        w.Clear();
        Http2FrameWriter.GoAwayFrame(w, 0, 0);
        foreach (int step in Transfer(Client, w.ToArray(), ackLast: false)) yield return step;
        foreach (int step in Close()) yield return step;
    }

    /// <summary>
    /// Bytes shaped like a protobuf message: tagged fields (RFC-less, see protobuf encoding docs)
    /// of varints and length-delimited strings, padded with a bytes field to the wanted size.
    /// </summary>
    private byte[] ProtobufLike(int size)
    {
        var w = new ByteWriter(size + 8);
        w.U8(0x0A); string sku = $"SKU-{Rng.Next(10000, 99999)}"; w.U8(sku.Length); w.Ascii(sku); // field 1, string
        w.U8(0x10); w.U8(Rng.Next(1, 127));                                                     // field 2, varint
        int rest = Math.Max(0, size - w.Length - 3);
        if (rest > 0)
        {
            w.U8(0x1A);                                                                          // field 3, bytes
            if (rest < 128) w.U8(rest); else { w.U8(rest & 0x7F | 0x80); w.U8(rest >> 7); }
            w.Random(Rng, rest);
        }
        return w.ToArray();
    }
}
