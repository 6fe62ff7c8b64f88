using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Pairs queries and responses of one flow (UDP 5-tuple or TCP connection) by message id, the
/// way tshark's dns.response_in / dns.response_to do: a response belongs to the latest
/// transaction with its id; a query repeating the id of an unanswered query within
/// <see cref="DnsOptions.RetransmissionWindowNs"/> is a retransmission (its own row, never
/// answered), a later one starts a new transaction; a second response to an answered
/// transaction is a retransmitted response (a row of its own).
/// </summary>
internal sealed class DnsTransactionMatcher
{
    /// <summary>
    /// The latest transaction of an id. Once emitted it keeps only its flags, not the row, so a
    /// long-lived flow holds at most 65,536 small entries.
    /// </summary>
    private sealed class Pending(DnsTransaction row)
    {
        private DnsTransaction? _row = row;
        /// <summary>Only read while not <see cref="Emitted"/> (every caller checks).</summary>
        public DnsTransaction Row
        {
            get
            {
                System.Diagnostics.Debug.Assert(_row is not null, "read after emit");
                return _row!;
            }
        }
        public long QueryTimestampNs { get; } = row.QueryTimestampNs ?? 0;
        public bool Answered { get; set; }
        public bool Emitted { get; private set; }

        public DnsTransaction TakeForEmit()
        {
            var r = Row;
            Emitted = true;
            _row = null;
            return r;
        }
    }

    private readonly FlowContext _flow;
    private readonly string _transport;
    private readonly string _variant;
    private readonly IRowSink<DnsTransaction> _sink;
    private readonly DnsOptions _options;
    private readonly Dictionary<ushort, Pending> _latestById = new();
    private readonly Queue<Pending> _unanswered = new();
    private int _unansweredCount;

    public DnsTransactionMatcher(FlowContext flow, IRowSink<DnsTransaction> sink, DnsOptions options)
    {
        _flow = flow;
        _transport = flow.Transport == Transport.Tcp ? "tcp" : "udp";
        _variant = DnsProtocol.VariantOf(flow.ClientPort, flow.ServerPort);
        _sink = sink;
        _options = options;
    }

    public void OnMessage(DnsMessage message, FlowDirection direction, SegmentInfo segment, IReadOnlyCollection<DnsAnomaly> framingAnomalies)
    {
        if (message.IsResponse) OnResponse(message, direction, segment, framingAnomalies);
        else OnQuery(message, direction, segment, framingAnomalies);
    }

    private void OnQuery(DnsMessage q, FlowDirection direction, SegmentInfo segment, IReadOnlyCollection<DnsAnomaly> framing)
    {
        // the query's sender is the client of this transaction
        var row = NewRow(q.Id, senderIsClient: true, direction);
        FillQuery(row, q, segment);
        AddAnomalies(row, q.Anomalies, framing);

        if (_latestById.TryGetValue(q.Id, out var previous) && !previous.Answered
            && segment.TimestampNs - previous.QueryTimestampNs < _options.RetransmissionWindowNs)
        {
            row.QueryRetransmission = true;
            _sink.Add(row);
            return;
        }
        if (previous is { Answered: false, Emitted: false })
        {
            // replaced by a new transaction with the same id: it stays unanswered
            Emit(previous);
        }
        // answered or emitted entries at the head are done: drop them so the queue stays small
        while (_unanswered.TryPeek(out var head) && (head.Answered || head.Emitted)) _unanswered.Dequeue();
        var pending = new Pending(row);
        _latestById[q.Id] = pending;
        _unanswered.Enqueue(pending);
        _unansweredCount++;
        while (_unansweredCount > _options.MaxPendingQueries && _unanswered.TryDequeue(out var oldest))
        {
            if (oldest.Answered || oldest.Emitted) continue;
            oldest.Row.Anomalies.Add(DnsAnomalies.Name(DnsAnomaly.PendingLimit));
            Emit(oldest);
        }
    }

    private void OnResponse(DnsMessage r, FlowDirection direction, SegmentInfo segment, IReadOnlyCollection<DnsAnomaly> framing)
    {
        if (_latestById.TryGetValue(r.Id, out var pending) && !pending.Answered && !pending.Emitted)
        {
            pending.Answered = true;
            _unansweredCount--;
            FillResponse(pending.Row, r, segment);
            AddAnomalies(pending.Row, r.Anomalies, framing);
            _sink.Add(pending.TakeForEmit());
            return;
        }
        var row = NewRow(r.Id, senderIsClient: false, direction);
        row.ResponseRetransmission = pending is { Answered: true };
        var first = r.Questions.Count > 0 ? r.Questions[0] : (DnsQuestion?)null;
        row.QueryName = first?.Name;
        row.QueryType = first?.Type;
        row.QueryClass = first?.Class;
        row.Opcode = r.Opcode;
        FillResponse(row, r, segment);
        AddAnomalies(row, r.Anomalies, framing);
        _sink.Add(row);
    }

    /// <summary>Emits every query still waiting for a response.</summary>
    public void Flush(IReadOnlyCollection<DnsAnomaly> reasons)
    {
        while (_unanswered.TryDequeue(out var p))
        {
            if (p.Answered || p.Emitted) continue;
            foreach (var a in reasons) p.Row.Anomalies.Add(DnsAnomalies.Name(a));
            Emit(p);
        }
        _unansweredCount = 0;
    }

    private void Emit(Pending p)
    {
        if (!p.Answered) _unansweredCount--;
        _sink.Add(p.TakeForEmit());
    }

    private DnsTransaction NewRow(ushort id, bool senderIsClient, FlowDirection direction)
    {
        // direction is relative to the flow's client; the transaction's client is the query sender
        bool flowClientIsTxnClient = (direction == FlowDirection.ClientToServer) == senderIsClient;
        return new DnsTransaction
        {
            Transport = _transport,
            ClientIp = (flowClientIsTxnClient ? _flow.ClientIp : _flow.ServerIp).ToString(),
            ClientPort = flowClientIsTxnClient ? _flow.ClientPort : _flow.ServerPort,
            ServerIp = (flowClientIsTxnClient ? _flow.ServerIp : _flow.ClientIp).ToString(),
            ServerPort = flowClientIsTxnClient ? _flow.ServerPort : _flow.ClientPort,
            Id = id,
            Variant = _variant,
            ConnectionId = _flow.ConnectionId,
        };
    }

    private static void FillQuery(DnsTransaction row, DnsMessage q, SegmentInfo segment)
    {
        row.QueryFrame = segment.FrameNumber;
        row.QueryTimestampNs = segment.TimestampNs;
        if (q.Questions.Count > 0)
        {
            row.QueryName = q.Questions[0].Name;
            row.QueryType = q.Questions[0].Type;
            row.QueryClass = q.Questions[0].Class;
        }
        row.Opcode = q.Opcode;
        row.RecursionDesired = q.RecursionDesired;
        if (q.Edns is { } e)
        {
            row.EdnsUdpSize = e.UdpPayloadSize;
            row.EdnsDnssecOk = e.DnssecOk;
        }
    }

    private static void FillResponse(DnsTransaction row, DnsMessage r, SegmentInfo segment)
    {
        row.ResponseFrame = segment.FrameNumber;
        row.ResponseTimestampNs = segment.TimestampNs;
        row.Rcode = r.Rcode;
        row.ExtendedRcode = r.ExtendedRcode;
        row.AnswerCount = r.AnswerCount;
        row.AuthorityCount = r.AuthorityCount;
        row.AdditionalCount = r.AdditionalCount;
        row.Answers = r.Answers;
        row.AuthorityRecords = r.Authority;
        row.AdditionalRecords = r.Additional;
        row.Authoritative = r.Authoritative;
        row.TruncatedFlag = r.Truncated;
        row.RecursionAvailable = r.RecursionAvailable;
        row.AuthenticData = r.AuthenticData;
        row.RecursionDesired ??= r.RecursionDesired;
        if (r.Edns is { } e)
        {
            row.EdnsUdpSize ??= e.UdpPayloadSize;
            row.EdnsDnssecOk ??= e.DnssecOk;
        }
    }

    private static void AddAnomalies(DnsTransaction row, List<DnsAnomaly> message, IReadOnlyCollection<DnsAnomaly> framing)
    {
        foreach (var a in message) row.Anomalies.Add(DnsAnomalies.Name(a));
        foreach (var a in framing) row.Anomalies.Add(DnsAnomalies.Name(a));
    }
}
