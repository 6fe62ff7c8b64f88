using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>One DNS question and the resolver's answer (none when <see cref="Answered"/> is false).</summary>
internal sealed record DnsQueryPlan(string Name, DnsType Type, int Rcode, IReadOnlyList<DnsAnswer> Answers, bool Answered = true, long ResolveNs = 400_000);

/// <summary>
/// DNS over UDP from one client socket to kube-dns: the queries go out together (as glibc sends A
/// and AAAA in parallel) and each answer arrives after the resolver's time.
/// </summary>
internal sealed class DnsUdpScript : ConversationScript
{
    private readonly SimulatedHost _client, _resolver;
    private readonly ushort _clientPort;
    private readonly bool _ipv6;
    private readonly IReadOnlyList<DnsQueryPlan> _queries;
    private readonly long _rttNs;
    private ushort _ipId;

    public DnsUdpScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost resolver, bool ipv6, long rttNs,
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
