using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Flows;

/// <summary>One DNS question and the resolver's answer (none when <see cref="Answered"/> is false).</summary>
internal sealed record DnsQueryPlan(string Name, DnsType Type, int Rcode, IReadOnlyList<DnsAnswer> Answers, bool Answered = true, long ResolveNs = 400_000);

/// <summary>
/// DNS over UDP from one client socket to kube-dns: the queries go out together (as glibc sends A
/// and AAAA in parallel) and each answer arrives after the resolver's time.
/// </summary>
internal sealed class DnsUdpScript : FlowScript
{
    private readonly SimulatedHost _client, _resolver;
    private readonly ushort _clientPort;
    private readonly bool _ipv6;
    private readonly IReadOnlyList<DnsQueryPlan> _queries;
    private readonly long _rttNs;
    private ushort _ipId;

    public DnsUdpScript(FlowContextInfo context, long startNs, SimulatedHost client, SimulatedHost resolver, bool ipv6, long rttNs,
        IReadOnlyList<DnsQueryPlan> queries) : base(context, startNs)
    {
        _client = client;
        _resolver = resolver;
        _ipv6 = ipv6;
        _rttNs = rttNs;
        _queries = queries;
        _clientPort = context.Topology.NextEphemeralPort(client);
        _ipId = (ushort)Rng.Next();
        PlannedBytes = queries.Count * 250;
        context.Summary.DnsQueries += queries.Count;
        context.Summary.DnsUnanswered += queries.Count(q => !q.Answered);
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        var ids = new ushort[_queries.Count];
        var answerAt = new List<(long At, int Index)>();
        for (int i = 0; i < _queries.Count; i++)
        {
            ids[i] = (ushort)Rng.Next(1, 65536);
            DnsQueryPlan q = _queries[i];
            Send(_client, _clientPort, _resolver, 53, DnsMessageWriter.Query(ids[i], q.Name, q.Type), Now);
            if (q.Answered) answerAt.Add((Now + Jitter(_rttNs) + Jitter(q.ResolveNs, 0.5), i));
            yield return 0;
            Now += Jitter(40_000);
        }
        answerAt.Sort();
        foreach (var (at, i) in answerAt)
        {
            DnsQueryPlan q = _queries[i];
            Send(_resolver, 53, _client, _clientPort, DnsMessageWriter.Response(ids[i], q.Name, q.Type, q.Rcode, q.Answers), at);
            yield return 0;
        }
    }

    private void Send(SimulatedHost from, ushort fromPort, SimulatedHost to, ushort toPort, ReadOnlySpan<byte> message, long at)
    {
        var addressing = new FrameAddressing(from, fromPort, to, toPort, _ipv6);
        FrameLength = FrameBuilder.WriteUdp(Frame, addressing, _ipId++, message);
        TimestampNs = at;
        if (at > Now) Now = at;
    }
}

/// <summary>
/// DNS over TCP (RFC 7766): a two-byte length before each message, as a client does after a
/// truncated UDP answer. One query, one large answer, then the client closes.
/// </summary>
internal sealed class DnsTcpScript : TcpFlowScript
{
    private readonly DnsQueryPlan _query;

    public DnsTcpScript(FlowContextInfo context, long startNs, SimulatedHost client, SimulatedHost resolver, long rttNs, DnsQueryPlan query)
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
