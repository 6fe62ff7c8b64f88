using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>
/// Follows one TCP connection's TLS: record layer per direction, handshake reassembly while the
/// direction is cleartext, hellos, certificates, alerts, and when each direction turns encrypted
/// (after its ChangeCipherSpec; in TLS 1.3 after the ServerHello, RFC 8446 §2).
/// Emits one <see cref="TlsHandshake"/> row at the end if any hello or alert was seen.
/// </summary>
internal sealed class TlsConnectionParser : IStreamParser
{
    private readonly FlowContext _flow;
    private readonly IRowSink<TlsHandshake> _sink;
    private readonly TlsOptions _options;
    private readonly TlsRecordReader[] _records;
    private readonly TlsHandshakeReader[] _handshakes;
    private readonly bool[] _encrypted = new bool[2];
    private readonly TlsHandshake _row;
    private FlowDirection _current;
    /// <summary>The side that sent the ClientHello (the flow's client until a hello says otherwise).</summary>
    private FlowDirection _clientSide = FlowDirection.ClientToServer;
    private bool _tls13;
    private bool _realServerHelloSeen;
    /// <summary>Record-layer version of the record whose fragment is being parsed.</summary>
    private int _recordVersion;
    private int _clientAppDataRecords;
    private bool _seen;
    private bool _ended;

    public TlsConnectionParser(FlowContext flow, IRowSink<TlsHandshake> sink, TlsOptions options)
    {
        _flow = flow;
        _sink = sink;
        _options = options;
        _records = new[] { new TlsRecordReader(OnRecord, options.MaxRecordLength), new TlsRecordReader(OnRecord, options.MaxRecordLength) };
        _handshakes = new[] { new TlsHandshakeReader(OnHandshake, options.MaxHandshakeMessageLength), new TlsHandshakeReader(OnHandshake, options.MaxHandshakeMessageLength) };
        _row = new TlsHandshake
        {
            ConnectionId = flow.ConnectionId,
            ClientIp = flow.ClientIp.ToString(),
            ClientPort = flow.ClientPort,
            ServerIp = flow.ServerIp.ToString(),
            ServerPort = flow.ServerPort,
        };
    }

    public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        _current = direction;
        var reader = _records[(int)direction];
        bool wasStopped = reader.StoppedBy is not null;
        reader.OnData(data, segment);
        if (!wasStopped && reader.StoppedBy is { } a) _row.Anomalies.Add(TlsAnomalies.Name(a));
    }

    public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment)
    {
        var reader = _records[(int)direction];
        if (reader.StoppedBy is null)
        {
            reader.OnGap();
            _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.Gap));
        }
    }

    public void OnEnd(long timestampNs)
    {
        if (_ended) return;
        _ended = true;
        foreach (var r in _records)
        {
            if (r.StoppedBy is null && r.InsideRecord) _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.TruncatedRecord));
        }
        if (_seen) _sink.Add(_row);
    }

    private void OnRecord(TlsContentType type, int version, ReadOnlySpan<byte> fragment, SegmentInfo segment)
    {
        int d = (int)_current;
        switch (type)
        {
            case TlsContentType.Ssl2ClientHello:
                var hello = TlsClientHello.ParseSsl2(fragment, out bool bad);
                if (bad) _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadHandshake));
                if (hello is not null) OnClientHello(hello, 0x0002, segment);
                break;
            case TlsContentType.Handshake:
                if (_encrypted[d]) break; // encrypted Finished / TLS 1.3 handshake: opaque without keys
                _recordVersion = version;
                _handshakes[d].OnFragment(fragment, segment);
                if (_handshakes[d].StoppedBy is { } a) _row.Anomalies.Add(TlsAnomalies.Name(a));
                break;
            case TlsContentType.ChangeCipherSpec:
                // RFC 5246 §7.1: what this side sends next is protected. In TLS 1.3 the CCS is only middlebox
                // camouflage (RFC 8446 §D.4) and may even precede the second ClientHello after a
                // HelloRetryRequest; there protection starts with the ServerHello instead.
                if (MayBeTls13()) break;
                _encrypted[d] = true;
                _handshakes[d].Reset();
                break;
            case TlsContentType.Alert:
                OnAlert(fragment, d);
                break;
            case TlsContentType.ApplicationData:
                if (_current == _clientSide && _tls13 && _clientAppDataRecords++ == 0) break; // the client's encrypted Finished
                if (_row.FirstApplicationDataTimestampNs is null && (_current == _clientSide || !_tls13))
                {
                    _row.FirstApplicationDataTimestampNs = segment.TimestampNs;
                }
                break;
        }
    }

    /// <summary>TLS 1.3 was negotiated, or offered and no (non-HRR) ServerHello has decided yet.</summary>
    private bool MayBeTls13() =>
        _realServerHelloSeen ? _tls13 : _row.ClientHello is { } ch && TlsNames.IsTls13(ch.MaxVersion);

    private void OnAlert(ReadOnlySpan<byte> fragment, int d)
    {
        _seen = true;
        _row.Alerts++;
        if (_row.Alert is not null) return;
        // an alert is readable when the direction is still cleartext and the record is level(1) + description(1)
        // with a defined level; anything else is a protected alert (tshark: "Encrypted Alert").
        bool plain = !_encrypted[d] && fragment.Length == 2 && fragment[0] is 1 or 2;
        _row.Alert = plain ? TlsNames.AlertText(fragment[0], fragment[1]) : "encrypted";
        // relative to the ClientHello's sender, as the oracle's alert_dir
        _row.AlertDirection = d == (int)_clientSide ? "c2s" : "s2c";
    }

    private void OnHandshake(int type, ReadOnlySpan<byte> body, SegmentInfo segment)
    {
        switch (type)
        {
            case 1: // client_hello
            {
                var hello = TlsClientHello.Parse(body, out bool bad);
                if (bad) _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadHandshake));
                if (hello is not null) OnClientHello(hello, _recordVersion, segment);
                break;
            }
            case 2: // server_hello (or hello_retry_request)
            {
                var hello = TlsServerHello.Parse(body, out bool bad);
                if (bad) _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadHandshake));
                if (hello is not null) OnServerHello(hello, segment);
                break;
            }
            case 11 when _current != _clientSide: // the server's certificate chain (client certificates are not shown)
                OnCertificate(body);
                break;
        }
    }

    private void OnClientHello(TlsClientHello hello, int recordVersion, SegmentInfo segment)
    {
        _seen = true;
        _row.ClientHellos++;
        if (_row.ClientHello is not null) return;
        _row.ClientHello = hello;
        _row.ClientHelloTimestampNs = segment.TimestampNs;
        _row.ClientHelloFrame = segment.FrameNumber;
        _row.ClientHelloRecordVersion = recordVersion;
        // the ClientHello's sender is the client even when the flow table guessed otherwise
        _clientSide = _current;
        SetEndpoints(clientIsFlowClient: _current == FlowDirection.ClientToServer);
    }

    private void OnServerHello(TlsServerHello hello, SegmentInfo segment)
    {
        _seen = true;
        _row.ServerHellos++;
        _row.ServerHello = hello;
        _row.FirstServerHelloTimestampNs ??= segment.TimestampNs;
        _row.LastServerHelloTimestampNs = segment.TimestampNs;
        if (hello.IsHelloRetryRequest)
        {
            _row.HelloRetryRequest = true;
            return; // RFC 8446 §4.1.4: the client answers with a second cleartext ClientHello
        }
        _realServerHelloSeen = true;
        if (_row.ClientHello is null)
        {
            _clientSide = _current.Reverse();
            SetEndpoints(clientIsFlowClient: _current == FlowDirection.ServerToClient);
        }
        if (TlsNames.IsTls13(hello.NegotiatedVersion))
        {
            // RFC 8446 §2: everything after the ServerHello is protected, in both directions
            _tls13 = true;
            _encrypted[0] = _encrypted[1] = true;
            _handshakes[0].Reset();
            _handshakes[1].Reset();
        }
    }

    private void OnCertificate(ReadOnlySpan<byte> body)
    {
        // RFC 5246 §7.4.2: ASN.1Cert certificate_list<0..2^24-1>, each opaque ASN.1Cert<1..2^24-1>
        var r = new SpanReader(body);
        if (!r.U24(out int total) || !r.Slice(total, out var list))
        {
            _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadHandshake));
            return;
        }
        var l = new SpanReader(list);
        while (l.Remaining > 0)
        {
            if (!l.U24(out int len) || !l.Slice(len, out var der))
            {
                _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadHandshake));
                return;
            }
            _row.CertificateCount++;
            if (_row.Certificates.Count >= _options.MaxCertificates) continue;
            var cert = TlsCertificateSummary.TryDecode(der);
            if (cert is null) _row.Anomalies.Add(TlsAnomalies.Name(TlsAnomaly.BadCertificate));
            else _row.Certificates.Add(cert);
        }
    }

    private void SetEndpoints(bool clientIsFlowClient)
    {
        _row.ClientIp = (clientIsFlowClient ? _flow.ClientIp : _flow.ServerIp).ToString();
        _row.ClientPort = clientIsFlowClient ? _flow.ClientPort : _flow.ServerPort;
        _row.ServerIp = (clientIsFlowClient ? _flow.ServerIp : _flow.ClientIp).ToString();
        _row.ServerPort = clientIsFlowClient ? _flow.ServerPort : _flow.ClientPort;
    }
}
