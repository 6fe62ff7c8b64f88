using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// An HTTP/1.1 keep-alive connection: handshake, the planned request/response pairs (each request
/// waits for the previous response), then an orderly close.
/// </summary>
internal sealed class HttpConversationScript : TcpConversationScript
{
    private readonly IReadOnlyList<HttpExchangePlan> _exchanges;
    private readonly string _host;
    private readonly string _userAgent;
    private readonly string _token;
    private readonly long _closeAt;

    public HttpConversationScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port,
        bool ipv6, long rttNs, string host, string userAgent, IReadOnlyList<HttpExchangePlan> exchanges, long closeAtNs = 0)
        : base(context, startNs, client, server, port, ipv6, rttNs)
    {
        _exchanges = exchanges;
        _host = host;
        _userAgent = userAgent;
        _closeAt = closeAtNs;
        _token = BearerToken(Rng);
        long bytes = 400;
        foreach (var e in exchanges) bytes += e.ResponseBody.Length + e.RequestBody.Length + 600 + (e.ResponseBody.Length / 1448 + 1) * 100;
        PlannedBytes = bytes;
        context.Summary.Http1Exchanges += exchanges.Count;
    }

    public override long PlannedBytes { get; }

    /// <summary>A JWT-shaped bearer token (header.payload.signature, base64url).</summary>
    internal static string BearerToken(Random rng)
    {
        string Part(int n) { var b = new byte[n]; rng.NextBytes(b); return Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_'); }
        return "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + Part(96) + "." + Part(48);
    }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        Now += Jitter(200_000);
        foreach (HttpExchangePlan e in _exchanges)
        {
            string requestId = $"{Rng.Next():x8}-{Rng.Next(0x10000):x4}-4{Rng.Next(0x1000):x3}-a{Rng.Next(0x1000):x3}-{Rng.NextInt64(1L << 48):x12}";
            byte[] request = Http1Messages.Request(e, _host, _userAgent, _token, requestId);
            foreach (int step in Transfer(Client, request, ackLast: false)) yield return step;

            ReadOnlyMemory<byte> body = e.Framing switch
            {
                BodyFraming.Chunked => Http1Messages.Chunk(Split(e.ResponseBody, 3)),
                _ => e.ResponseBody,
            };
            // The answer reaches the capture point one round trip plus the server's think time later.
            Now += Jitter(RttNs) + Jitter(e.ThinkNs, 0.5);
            var date = DateTimeOffset.FromUnixTimeMilliseconds(Now / 1_000_000);
            byte[] head = Http1Messages.ResponseHead(e, date, body.Length);
            foreach (int step in Transfer(Server, head, body)) yield return step;
            Now += Jitter(e.IdleAfterNs, 0.3);
        }
        if (_closeAt > Now) Now = _closeAt;
        foreach (int step in Close(clientFirst: Rng.Next(4) != 0)) yield return step;
    }

    private static IEnumerable<ReadOnlyMemory<byte>> Split(ReadOnlyMemory<byte> body, int parts)
    {
        int size = (body.Length + parts - 1) / parts;
        for (int at = 0; at < body.Length; at += size) yield return body.Slice(at, Math.Min(size, body.Length - at));
    }
}
