using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// DNS over TCP (RFC 7766): a two-byte length before each message, as a client does after a
/// truncated UDP answer. One query, one large answer, then the client closes.
/// </summary>
internal sealed class DnsTcpScript : TcpConversationScript
{
    private readonly DnsQueryPlan _query;

    public DnsTcpScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost resolver, long rttNs, DnsQueryPlan query)
        : base(context, startNs, client, resolver, 53, false, rttNs)
    {
        _query = query;
        PlannedBytes = 1500;
        context.Summary.DnsQueries++;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        ushort id = (ushort)Rng.Next(1, 65536);
        foreach (int step in Transfer(Client, Framed(DnsMessageWriter.Query(id, _query.Name, _query.Type)), ackLast: false)) yield return step;
        Now += Jitter(RttNs) + Jitter(_query.ResolveNs, 0.5);
        foreach (int step in Transfer(Server, Framed(DnsMessageWriter.Response(id, _query.Name, _query.Type, _query.Rcode, _query.Answers)))) yield return step;
        foreach (int step in Close()) yield return step;
    }

    private static byte[] Framed(byte[] message)
    {
        var framed = new byte[message.Length + 2];
        framed[0] = (byte)(message.Length >> 8);
        framed[1] = (byte)message.Length;
        message.CopyTo(framed, 2);
        return framed;
    }
}
