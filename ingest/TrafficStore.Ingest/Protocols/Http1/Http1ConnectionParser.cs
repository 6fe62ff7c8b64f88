using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>
/// The HTTP/1.x parser of one TCP connection: a message reader per direction, requests paired
/// with responses first-in first-out (RFC 9112 §9.3.2 pipelining), interim 1xx responses counted
/// on the request they precede, h2c upgrades handed to the HTTP/2 parser and CONNECT tunnels
/// skipped. Rows are emitted in request order once both halves are done, the rest at OnEnd.
/// </summary>
internal sealed class Http1ConnectionParser : IStreamParser, IHttp1MessageHandler
{
    /// <summary>One request/response pair being assembled.</summary>
    private sealed class Slot
    {
        public Http1Message? Request;
        public Http1Message? Response;
        public bool RequestDone;
        public bool ResponseDone;
        public int InterimResponses;
        public readonly List<Http1Anomaly> Anomalies = new();
        /// <summary>What the client direction becomes once this request ends (set by a 101 or CONNECT 2xx seen first).</summary>
        public Http1Switch? ClientSwitch;
    }

    private readonly FlowContext _flow;
    private readonly IRowSink<HttpExchange> _sink;
    private readonly Http1Options _options;
    private readonly Func<FlowContext, IStreamParser>? _h2cUpgrade;
    private readonly Http1MessageReader _client;
    private readonly Http1MessageReader _server;
    /// <summary>Pairs in request order; finished ones leave from the front.</summary>
    private readonly Queue<Slot> _slots = new();
    /// <summary>Request slots without a final response yet, oldest first (a deep pipeline must not make pairing quadratic).</summary>
    private readonly Queue<Slot> _awaiting = new();
    private readonly string _clientIp;
    private readonly string _serverIp;
    private IStreamParser? _h2;
    private bool _ended;
    /// <summary>Requests travel server→client as the flow table named the ends (its guess of the client was wrong).</summary>
    private bool _reversed;

    public Http1ConnectionParser(FlowContext flow, IRowSink<HttpExchange> sink, Http1Options options, Func<FlowContext, IStreamParser>? h2cUpgrade)
    {
        _flow = flow;
        _sink = sink;
        _options = options;
        _h2cUpgrade = h2cUpgrade;
        _client = new Http1MessageReader(FlowDirection.ClientToServer, this, options);
        _server = new Http1MessageReader(FlowDirection.ServerToClient, this, options);
        _clientIp = flow.ClientIp.ToString();
        _serverIp = flow.ServerIp.ToString();
    }

    public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        if (_ended) return;
        Reader(direction).OnData(data, segment);
    }

    public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment)
    {
        if (_ended) return;
        Reader(direction).OnGap(missingBytes, segment);
    }

    public void OnEnd(long timestampNs)
    {
        if (_ended) return;
        _ended = true;
        // requests first: held client bytes are replayed before the response side flushes
        RequestReader.OnEnd();
        ResponseReader.OnEnd();
        _h2?.OnEnd(timestampNs);
        while (_slots.TryDequeue(out var slot)) Emit(slot);
    }

    private Http1MessageReader Reader(FlowDirection d) => d == FlowDirection.ClientToServer ? _client : _server;

    // ------------------------------------------------------------------ reader callbacks

    public Http1BodyMode OnHeaderSectionEnd(Http1MessageReader reader, Http1Message message)
    {
        if (message.IsRequest)
        {
            var slot = new Slot { Request = message };
            message.Tag = slot;
            _slots.Enqueue(slot);
            _awaiting.Enqueue(slot);
            return Http1Framing.ForRequest(message);
        }

        int status = message.Status;
        var target = FirstAwaitingResponse();
        if (status is >= 100 and < 200 && status != 101)
        {
            // interim (100 Continue, 102, 103): not the answer, counted on the request it precedes
            if (target is not null) target.InterimResponses++;
            else ResponseReader.AddPendingAnomaly(Http1Anomaly.InterimWithoutRequest);
            return Http1BodyMode.None;
        }
        target = Attach(message);
        string? method = target.Request?.Method;

        if (status == 101)
        {
            // RFC 9110 §15.2.2: the connection switches right after the 101's header section
            if (_h2cUpgrade is not null && IsH2c(target.Request, message))
            {
                _h2 ??= _h2cUpgrade(_flow);
                target.Anomalies.Add(Http1Anomaly.H2cUpgrade);
                SwitchClient(target, Http1Switch.Upgraded);
                return Http1BodyMode.Upgrade;
            }
            target.Anomalies.Add(Http1Anomaly.UpgradeTunnel);
            SwitchClient(target, Http1Switch.Tunnel);
            return Http1BodyMode.Tunnel;
        }
        if (method == "CONNECT" && status is >= 200 and < 300)
        {
            // RFC 9110 §9.3.6: after a 2xx the connection is a blind tunnel both ways
            target.Anomalies.Add(Http1Anomaly.ConnectTunnel);
            SwitchClient(target, Http1Switch.Tunnel);
            return Http1BodyMode.Tunnel;
        }
        if (target.Request is not null && !target.ClientSwitch.HasValue) SwitchClient(target, Http1Switch.Http1);
        return Http1Framing.ForResponse(message, method);
    }

    public void OnMessageEnd(Http1MessageReader reader, Http1Message message)
    {
        if (message.Tag is null && message.Incomplete && message.BodyMode == Http1BodyMode.None && !IsInterim(message))
        {
            // cut inside its header section: still a (partial) message of this connection
            if (message.IsRequest)
            {
                var cut = new Slot { Request = message };
                message.Tag = cut;
                _slots.Enqueue(cut);
                _awaiting.Enqueue(cut);
            }
            else Attach(message);
        }
        if (message.Tag is not Slot slot) return; // interim response
        if (message.IsRequest)
        {
            slot.RequestDone = true;
            if (slot.ClientSwitch is { } to) reader.SwitchTo(to);
            else if (slot.Response is null && (message.Method == "CONNECT" || message.Upgrade is not null)) reader.Hold();
        }
        else
        {
            slot.ResponseDone = true;
        }
        Flush();
    }

    public bool TryReverseRoles(Http1MessageReader reader)
    {
        if (_reversed || _client.AnyStartLine || _server.AnyStartLine || _slots.Count > 0) return false;
        _reversed = true;
        _client.IsRequestSide = false;
        _server.IsRequestSide = true;
        return true;
    }

    /// <summary>The reader that carries requests.</summary>
    private Http1MessageReader RequestReader => _reversed ? _server : _client;

    /// <summary>The reader that carries responses.</summary>
    private Http1MessageReader ResponseReader => _reversed ? _client : _server;

    public void OnUpgradedData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment) => _h2?.OnData(direction, data, segment);

    public void OnUpgradedGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => _h2?.OnGap(direction, missingBytes, segment);

    // ------------------------------------------------------------------ pairing

    private static bool IsInterim(Http1Message m) => !m.IsRequest && m.Status is >= 100 and < 200 && m.Status != 101;

    /// <summary>Pairs a final response with the oldest request still waiting for one (or none).</summary>
    private Slot Attach(Http1Message response)
    {
        var target = FirstAwaitingResponse();
        if (target is not null) _awaiting.Dequeue();
        else
        {
            target = new Slot();
            target.Anomalies.Add(Http1Anomaly.ResponseWithoutRequest);
            _slots.Enqueue(target);
        }
        target.Response = response;
        response.Tag = target;
        return target;
    }

    private Slot? FirstAwaitingResponse() => _awaiting.TryPeek(out var s) ? s : null;

    private void SwitchClient(Slot slot, Http1Switch to)
    {
        slot.ClientSwitch = to;
        if (slot.RequestDone) RequestReader.SwitchTo(to);
    }

    private static bool IsH2c(Http1Message? request, Http1Message response)
    {
        static bool Has(string? v) => v is not null && v.Split(',').Any(t => t.Trim().Equals("h2c", StringComparison.OrdinalIgnoreCase));
        return Has(response.Upgrade) || Has(request?.Upgrade);
    }

    /// <summary>Emits finished pairs from the front, so rows leave in request order.</summary>
    private void Flush()
    {
        while (_slots.TryPeek(out var front) && (front.Request is null || front.RequestDone) && front.ResponseDone)
        {
            Emit(_slots.Dequeue());
        }
    }

    private void Emit(Slot slot)
    {
        var x = new HttpExchange
        {
            ConnectionId = _flow.ConnectionId,
            ClientIp = _reversed ? _serverIp : _clientIp,
            ClientPort = _reversed ? _flow.ServerPort : _flow.ClientPort,
            ServerIp = _reversed ? _clientIp : _serverIp,
            ServerPort = _reversed ? _flow.ClientPort : _flow.ServerPort,
            InterimResponses = slot.InterimResponses,
        };
        var anomalies = new List<string>();
        if (_reversed) anomalies.Add(Http1Anomaly.RolesReversed.ToName());
        var payload = _options.Payload;

        if (slot.Request is { } q)
        {
            x.Protocol = q.Version;
            x.RequestFrame = q.CompleteFrame;
            x.RequestTimestampNs = q.CompleteNs;
            x.RequestFirstByteNs = q.FirstByteNs;
            x.RequestLastByteNs = q.LastByteNs;
            x.Method = q.Method;
            x.Uri = q.Target;
            x.Host = q.Header("Host");
            x.RequestHeaders.AddRange(q.Headers);
            x.RequestTrailers.AddRange(q.Trailers);
            x.RequestContentType = q.Header("Content-Type");
            x.RequestContentEncoding = q.Header("Content-Encoding");
            if (!slot.RequestDone && !q.Incomplete) q.Anomalies.Add(Http1Anomaly.RequestIncomplete);
            foreach (var a in q.Anomalies) anomalies.Add(a.ToName());
            if (q.HasBody)
            {
                x.RequestBodyLength = q.BodyLength;
                x.RequestBody = q.Body?.ToArray() ?? Array.Empty<byte>();
                var decoded = Decode(q, x.RequestBody, payload, anomalies);
                x.RequestBodyDecoded = decoded.Decoded;
                if (q.Body is { Truncated: true } || decoded.Status == ContentDecodeStatus.DecodedOutputCapped) x.BodyTruncated = true;
            }
        }
        if (slot.Response is { } r)
        {
            if (x.Protocol.Length == 0) x.Protocol = r.Version;
            x.ResponseFrame = r.CompleteFrame;
            x.ResponseTimestampNs = r.CompleteNs;
            x.ResponseFirstByteNs = r.FirstByteNs;
            x.ResponseLastByteNs = r.LastByteNs;
            x.Status = r.Status;
            x.Reason = r.Reason;
            x.ResponseHeaders.AddRange(r.Headers);
            x.ResponseTrailers.AddRange(r.Trailers);
            x.ContentType = r.Header("Content-Type");
            x.TransferEncoding = r.Header("Transfer-Encoding");
            x.ContentEncoding = r.Header("Content-Encoding");
            if (!slot.ResponseDone && !r.Incomplete) r.Anomalies.Add(Http1Anomaly.ResponseIncomplete);
            foreach (var a in r.Anomalies) anomalies.Add(a.ToName());
            if (r.HasBody)
            {
                x.ResponseBodyLength = r.BodyLength;
                x.ResponseBody = r.Body?.ToArray() ?? Array.Empty<byte>();
                var decoded = Decode(r, x.ResponseBody, payload, anomalies);
                x.ResponseBodyDecoded = decoded.Decoded;
                x.ResponseBodyDecodedLength = decoded.DecodedLength ?? r.BodyLength;
                if (r.Body is { Truncated: true } || decoded.Status == ContentDecodeStatus.DecodedOutputCapped) x.BodyTruncated = true;
            }
        }
        foreach (var a in slot.Anomalies) anomalies.Add(a.ToName());
        foreach (var a in anomalies)
        {
            if (!x.Anomalies.Contains(a)) x.Anomalies.Add(a);
        }
        HttpSignals.Apply(x, _options.Signals);
        _sink.Add(x);
    }

    /// <summary>Removes content codings (and transfer codings other than chunked) from a complete body.</summary>
    private static ContentDecodeResult Decode(Http1Message m, byte[] body, PayloadOptions payload, List<string> anomalies)
    {
        if (!payload.DecodeContent || m.Incomplete || m.BodyMissingBytes > 0 || m.Body is null or { Truncated: true }) return default;
        // codings in the order applied: content codings first, then transfer codings (RFC 9110 §8.4, RFC 9112 §6.1)
        var codings = ContentDecoder.ParseCodings(m.Header("Content-Encoding"));
        foreach (var te in m.TransferEncodings) codings.AddRange(ContentDecoder.ParseCodings(te));
        if (codings.Count == 0) return default;
        var result = ContentDecoder.Decode(body, codings, payload.MaxDecodedBodyBytes);
        if (result.AnomalyName is { } name) anomalies.Add(name);
        return result;
    }
}
