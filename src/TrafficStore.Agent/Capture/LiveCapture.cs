using System.Diagnostics;
using Apache.Arrow;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Kubernetes.Enrichment;
using TrafficStore.Kubernetes.Process;
using TrafficStore.Store.Ingest;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;
using IngestIdentity = TrafficStore.Ingest.Flows.EndpointIdentity;

namespace TrafficStore.Agent.Capture;

/// <summary>What one interface's capture has seen so far (read from any thread).</summary>
public readonly record struct LiveCaptureCounters(long Frames, long Packets, long Bytes, long TcpConnections, long UdpFlows,
    long HttpExchanges, long DnsTransactions, long TlsHandshakes, long? FirstFrameNs, long? LastFrameNs,
    LiveCaptureStatistics? Pcap, long ProcessesResolved, long ProcessesNotFound);

/// <summary>
/// Live capture of one interface: libpcap → the same <see cref="IngestPipeline"/> and
/// <see cref="ProtocolSet"/> as file ingest (its Run loop, with this as the frame observer, as store ingest does; with an
/// idle timeout so rows leave while the capture runs) → rows of the store's tables
/// (<see cref="TrafficTables"/>), buffered until the agent drains them into batches: the derived
/// tables, connection_timeline (<see cref="ConnectionTimeline"/>, fed the packet the pipeline decoded)
/// and, unless turned off, every frame (packets, <see cref="PacketBatchBuilder"/>). The local process
/// behind each end of a connection is looked up when the connection's first frame is seen (the socket
/// may be gone by the time its row is emitted) and put on the row with the capturing node's name.
/// </summary>
public sealed class LiveCapture : IFrameObserver, IDisposable
{
    private static readonly long StatsSampleTicks = Stopwatch.Frequency;   // pcap_stats at most once a second

    private readonly string _interface;
    private readonly long _captureId;
    private readonly string _node;
    private readonly AgentOptions _options;
    private readonly SocketProcessResolver? _processes;
    private readonly ConnectionIdentityCache? _identityCache;
    private readonly ConnectionIdentities _identities;
    private readonly Dictionary<long, (LocalProcess? A, NetAddress AIp, ushort APort, LocalProcess? B)> _connectionProcesses = new();
    private readonly TableBuffer<Stored<ConnectionRecord>> _connections = new(TrafficTables.ConnectionsDefinition);
    private readonly TableBuffer<Stored<HttpExchange>> _http = new(TrafficTables.HttpDefinition);
    private readonly TableBuffer<Stored<DnsTransaction>> _dns = new(TrafficTables.DnsDefinition);
    private readonly TableBuffer<Stored<TlsHandshake>> _tls = new(TrafficTables.TlsDefinition);
    private readonly TableBuffer<Stored<PayloadRow>> _payloads = new(TrafficTables.PayloadsDefinition);
    private static readonly ArrowBatchBuilder<Stored<PayloadRow>> PayloadBatches = new(TrafficTables.PayloadsDefinition);
    private readonly TableBuffer<Stored<TimelineRow>> _timelineRows = new(TrafficTables.TimelineDefinition);
    private readonly ConnectionTimeline _timeline;
    private readonly FrameBuffer? _frameRows;
    // Connection rows the pipeline emitted while processing the current frame: finished after the
    // frame reached the timeline (the frame may be the connection's own last one).
    private readonly List<ConnectionRecord> _ended = new();
    private ICaptureSource? _source;
    private Thread? _thread;
    private IngestPipeline? _pipeline;
    private long _frames, _bytes, _tcp, _udp, _httpRows, _dnsRows, _tlsRows, _resolved, _notFound;
    private long _firstFrameNs = long.MinValue, _lastFrameNs = long.MinValue;
    private long _lastStatsSample;
    private LiveCaptureStatistics? _pcap;
    private IngestResult? _result;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LiveCapture(string interfaceName, long captureId, AgentOptions options, SocketProcessResolver? processes)
    {
        _interface = interfaceName;
        _captureId = captureId;
        _options = options;
        _node = options.NodeName;
        _processes = processes;
        if (options.Identities is { } map) _identityCache = new ConnectionIdentityCache(new ConnectionEnricher(map));
        _timeline = new ConnectionTimeline(AddTimeline);
        _identities = new ConnectionIdentities(_identityCache, _timeline);
        // Packets batches, like every batch, within half the DoPut message bound (see DrainGroups).
        if (options.ShipFrames) _frameRows = new FrameBuffer(Math.Min(options.FrameBatchBytes, Math.Max(1, options.MaxPutMessageBytes / 2)), options.FrameHoldBytes);
        StartedNs = NowNs();
    }

    public string Interface => _interface;
    public long CaptureId => _captureId;
    public long StartedNs { get; }
    /// <summary>Completes when the capture thread has ended and every row was handed to the buffers.</summary>
    public Task Finished => _finished.Task;
    /// <summary>Set when the capture ended; its Error says why a capture stopped early.</summary>
    public IngestResult? Result => Volatile.Read(ref _result);

    /// <summary>
    /// Opens the interface and starts capturing on a dedicated thread. Returns the open error
    /// (e.g. missing permission, no such interface) instead of throwing.
    /// </summary>
    public CaptureError? Start()
    {
        if (_source is not null) throw new InvalidOperationException("already started");
        var source = _options.OpenCapture?.Invoke(_interface) ?? LibpcapSource.OpenLive(_interface, _options.Capture);
        if (source is not LibpcapSource && _options.OpenCapture is null)
        {
            var frame = new CaptureFrame();
            source.TryReadNext(ref frame);
            var error = source.Error ?? new CaptureError(_interface, -1, "open_failed", "could not open the interface");
            source.Dispose();
            return error;
        }
        _source = source;
        var protocols = new ProtocolSet(new Sink<HttpExchange>(AddHttp), new Sink<DnsTransaction>(AddDns), new Sink<TlsHandshake>(AddTls), _options.Protocols);
        _pipeline = new IngestPipeline(new Sink<ConnectionRecord>(_ended.Add), protocols.StreamProtocols, protocols.DatagramProtocols, new IngestOptions
        {
            IdleTimeout = _options.IdleTimeout,
            ClosedLinger = _options.ClosedLinger,
            FrameObserver = this,
        });
        _thread = new Thread(RunCapture) { IsBackground = true, Name = "capture " + _interface };
        _thread.Start();
        return null;
    }

    /// <summary>Asks the capture to end: the read loop returns within the read timeout, the pipeline completes and emits every open flow.</summary>
    public void Stop() => (_source as LibpcapSource)?.Stop();

    private void RunCapture()
    {
        try
        {
            var result = _pipeline!.Run(_source!);
            FinishEndedConnections();   // the rows Complete() emitted at the end
            _timeline.Complete();
            SampleStatistics(force: true);
            Volatile.Write(ref _tcp, result.TcpConnections);
            Volatile.Write(ref _udp, result.UdpFlows);
            Volatile.Write(ref _result, result);
            _finished.TrySetResult();
        }
        catch (Exception e)
        {
            _finished.TrySetException(e);
        }
    }

    /// <summary>Batches of the rows buffered so far, one per table that has rows (packets: one per size-bounded cut).</summary>
    public IEnumerable<(string Table, RecordBatch Batch)> Drain() => DrainGroups().SelectMany(g => g);

    /// <summary>
    /// The rows buffered so far as batches in units the agent spools atomically (<see cref="Spool.DiskSpool.AppendGroup"/>):
    /// one unit per batch of the derived tables, and one per frame group — its payloads batch first, then
    /// the packets batches whose frames may refer to those payloads rows (<see cref="FrameBuffer"/>).
    /// </summary>
    public List<List<(string Table, RecordBatch Batch)>> DrainGroups()
    {
        var units = new List<List<(string, RecordBatch)>>();
        // Half the DoPut message bound: a batch fits one message with room for its IPC framing (docs/agent.md "Message size").
        long maxBytes = Math.Max(1, _options.MaxPutMessageBytes / 2);
        void Add<T>(TableBuffer<T> buffer)
        {
            foreach (var batch in buffer.Drain(maxBytes)) units.Add([(buffer.Table, batch)]);
        }
        Add(_connections);
        Add(_timelineRows);
        Add(_http);
        Add(_dns);
        Add(_tls);
        // After http: a payloads row names its exchange.
        Add(_payloads);   // --no-frames: nothing refers to them
        if (_frameRows is not null)
        {
            var payloadBatches = new BoundedBatches<Stored<PayloadRow>>(PayloadBatches, maxBytes);
            foreach (var group in _frameRows.Drain())
            {
                var unit = new List<(string, RecordBatch)>();
                foreach (var p in payloadBatches.Build(group.Payloads)) unit.Add((TrafficTables.Payloads, p));
                foreach (var f in group.Packets) unit.Add((TrafficTables.Packets, f));
                units.Add(unit);
            }
        }
        return units;
    }

    /// <summary>Frames shipped without HTTP body bytes they carried, and those bytes (stored once, in payloads).</summary>
    public (long Frames, long Bytes) Elided => _frameRows?.Elided ?? default;

    public LiveCaptureCounters Counters
    {
        get
        {
            long first = Volatile.Read(ref _firstFrameNs), last = Volatile.Read(ref _lastFrameNs);
            return new LiveCaptureCounters(Volatile.Read(ref _frames), Result?.Packets ?? 0, Volatile.Read(ref _bytes),
                Volatile.Read(ref _tcp), Volatile.Read(ref _udp), Volatile.Read(ref _httpRows), Volatile.Read(ref _dnsRows), Volatile.Read(ref _tlsRows),
                first == long.MinValue ? null : first, last == long.MinValue ? null : last, _pcap,
                Volatile.Read(ref _resolved), Volatile.Read(ref _notFound));
        }
    }

    /// <summary>A capture_stats row with the counters so far (state "running", or the final state once finished).</summary>
    public CaptureStatsRow StatsRow(long droppedRows, long droppedBatches)
    {
        var c = Counters;
        var result = Result;
        return new CaptureStatsRow
        {
            StartedNs = StartedNs,
            FinishedNs = NowNs(),
            CaptureId = _captureId,
            Source = $"agent:{_node}:{_interface}",
            State = result is null ? "running" : result.Error is not null ? "error" : "complete",
            Frames = c.Frames,
            Packets = result?.Packets ?? 0,
            Bytes = c.Bytes,
            TcpConnections = c.TcpConnections,
            UdpFlows = c.UdpFlows,
            HttpExchanges = c.HttpExchanges,
            DnsTransactions = c.DnsTransactions,
            TlsHandshakes = c.TlsHandshakes,
            FirstFrameNs = c.FirstFrameNs,
            LastFrameNs = c.LastFrameNs,
            DecoderAnomalies = result is null ? null
                : string.Join("|", result.Decoder.AnomalyCounts().Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}:{kv.Value}")),
            Error = result?.Error?.ToString(),
            Node = _node,
            CaptureReceived = c.Pcap?.Received,
            CaptureDroppedKernel = c.Pcap?.DroppedByKernel,
            CaptureDroppedInterface = c.Pcap?.DroppedByInterface,
            AgentDroppedRows = droppedRows,
            AgentDroppedBatches = droppedBatches,
        };
    }

    // ------------------------------------------------------------------ capture thread

    /// <summary>
    /// Each frame as the pipeline processed it: the timeline gets the decoded packet, the packets
    /// buffer the frame; connection rows the pipeline emitted meanwhile are finished after that.
    /// </summary>
    void IFrameObserver.OnFrame(in CaptureFrame frame, long connectionId, bool decoded, in DecodedPacket packet, ReadOnlySpan<byte> payload)
    {
        if (decoded && connectionId >= 0) _timeline.Add(packet, connectionId);
        Volatile.Write(ref _frames, _frames + 1);
        Volatile.Write(ref _bytes, _bytes + frame.Data.Length);
        if (_firstFrameNs == long.MinValue) Volatile.Write(ref _firstFrameNs, frame.TimestampNs);
        Volatile.Write(ref _lastFrameNs, frame.TimestampNs);
        if (decoded && connectionId >= 0 && _processes is not null && !_connectionProcesses.ContainsKey(connectionId))
            ResolveProcesses(packet, connectionId);
        _frameRows?.Add(frame, _captureId, connectionId >= 0 ? StoreIds.Global(_captureId, connectionId) : null,
            connectionId >= 0 ? OwnerNamespace(connectionId) : "", decoded, packet, payload);
        if ((_frames & 63) == 0)
        {
            Volatile.Write(ref _tcp, _pipeline!.TcpConnections);
            Volatile.Write(ref _udp, _pipeline.UdpFlows);
        }
        SampleStatistics(force: false);
        if (_ended.Count > 0) FinishEndedConnections();
    }

    /// <summary>
    /// The owners of both ends' sockets, looked up at the connection's first frame: by the time its
    /// row is emitted the sockets are often closed. A remote end that happens to match a local
    /// socket bound to the wildcard address is attributed to it (see docs/agent.md).
    /// </summary>
    private void ResolveProcesses(in DecodedPacket p, long connectionId)
    {
        if (!(p.IsTcp || p.IsUdp)) return;
        var protocol = p.IsTcp ? SocketProtocol.Tcp : SocketProtocol.Udp;
        var a = Resolve(protocol, p.Source, p.SourcePort);
        var b = Resolve(protocol, p.Destination, p.DestinationPort);
        _connectionProcesses[connectionId] = (a, p.Source, p.SourcePort, b);
    }

    private LocalProcess? Resolve(SocketProtocol protocol, NetAddress address, ushort port)
    {
        if (_processes!.TryResolve(protocol, address, port, out var identity))
        {
            Interlocked.Increment(ref _resolved);
            return new LocalProcess(identity.Pid, identity.Command, identity.ContainerId);
        }
        Interlocked.Increment(ref _notFound);
        return null;
    }

    private void SampleStatistics(bool force)
    {
        long now = Stopwatch.GetTimestamp();
        if (!force && now - _lastStatsSample < StatsSampleTicks) return;
        _lastStatsSample = now;
        if (_source is LibpcapSource live && live.ReadStatistics() is { } s) _pcap = s;
    }

    private void FinishEndedConnections()
    {
        foreach (var row in _ended)
        {
            // Its last timeline row first: that takes identities from the cache the connection row then forgets.
            _timeline.Complete(row.ConnectionId);
            AddConnection(row);
        }
        _ended.Clear();
    }

    private void AddConnection(ConnectionRecord row)
    {
        row.Node = _node;
        if (_connectionProcesses.Remove(row.ConnectionId, out var owners))
        {
            bool aIsClient = owners.AIp == row.ClientIp && owners.APort == row.ClientPort;
            row.ClientProcess = aIsClient ? owners.A : owners.B;
            row.ServerProcess = aIsClient ? owners.B : owners.A;
        }
        // The connection row is its last: its identity comes from the cache its exchanges used, then both are dropped.
        _identityCache?.Enrich(row);
        _identityCache?.Forget(row.ConnectionId);
        _connections.Add(new Stored<ConnectionRecord>(row, _captureId, row.Client, row.Server));
    }

    private void AddHttp(HttpExchange x)
    {
        Interlocked.Increment(ref _httpRows);
        var stored = Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort, x.RequestTimestampNs ?? x.ResponseTimestampNs ?? 0);
        _http.Add(stored);
        // Headers and full bodies, as store ingest keeps them (the payloads table), with the exchange's identities.
        long start = TrafficTables.HttpDefinition["ts"].GetInt64(stored) ?? 0;
        // With frames shipped, the rows go with the frames that may refer to their bodies (FrameBuffer).
        if (PayloadRows.Request(x, start) is { } request) AddPayload(new Stored<PayloadRow>(request, _captureId, stored.Client, stored.Server), x.RequestFirstByteNs, x.RequestLastByteNs);
        if (PayloadRows.Response(x, start) is { } response) AddPayload(new Stored<PayloadRow>(response, _captureId, stored.Client, stored.Server), x.ResponseFirstByteNs, x.ResponseLastByteNs);
    }

    private void AddPayload(Stored<PayloadRow> row, long? firstByteNs, long? lastByteNs)
    {
        if (_frameRows is not null) _frameRows.AddPayload(row, firstByteNs, lastByteNs);
        else _payloads.Add(row);
    }

    private void AddDns(DnsTransaction x)
    {
        Interlocked.Increment(ref _dnsRows);
        _dns.Add(Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort, x.QueryTimestampNs ?? x.ResponseTimestampNs ?? 0));
    }

    private void AddTls(TlsHandshake x)
    {
        Interlocked.Increment(ref _tlsRows);
        _tls.Add(Wrap(x, x.ConnectionId, x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort, x.ClientHelloTimestampNs ?? x.FirstServerHelloTimestampNs ?? 0));
    }

    private void AddTimeline(TimelineRow row, ConnectionEnds ends)
    {
        var (client, server) = _identities.Of(row.ConnectionId, ends);
        _timelineRows.Add(new Stored<TimelineRow>(row, _captureId, client, server));
    }

    // ------------------------------------------------------------------ identities

    private string OwnerNamespace(long connectionId) => _identities.OwnerNamespace(connectionId);

    /// <summary>
    /// Wraps an exchange row with both ends' identities as of its connection's first frame (the
    /// same rule as store ingest: <see cref="ConnectionIdentities"/>); the row's own time stands
    /// in when that frame was not seen (the connection was already forgotten).
    /// </summary>
    private Stored<T> Wrap<T>(T row, long connectionId, string clientIp, int clientPort, string serverIp, int serverPort, long rowTimestampNs)
    {
        var (client, server) = _identities.Of(connectionId, clientIp, clientPort, serverIp, serverPort, firstNsFallback: rowTimestampNs);
        return new Stored<T>(row, _captureId, client, server);
    }

    internal static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    public void Dispose()
    {
        Stop();
        _thread?.Join(TimeSpan.FromSeconds(5));
        _source?.Dispose();
    }

    private sealed class Sink<T>(Action<T> add) : IRowSink<T>
    {
        public void Add(T row) => add(row);
    }
}
