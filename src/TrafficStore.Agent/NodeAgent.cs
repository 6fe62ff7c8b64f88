using System.Security.Cryptography;
using Apache.Arrow;
using TrafficStore.Agent.Capture;
using TrafficStore.Agent.Shipping;
using TrafficStore.Agent.Spool;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tables;
using TrafficStore.Kubernetes.Process;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent;

/// <summary>
/// The node agent (docs/agent.md): one <see cref="LiveCapture"/> per interface, a flush loop that
/// turns their rows into Arrow batches of the store's tables and appends them to the
/// <see cref="DiskSpool"/>, and a <see cref="FlightShipper"/> that sends the spool to the server with
/// DoPut. A capture_stats row per interface (libpcap's counters, the agent's own drops) is spooled
/// every <see cref="AgentOptions.StatsInterval"/>, right after the spool dropped data, and at the end.
/// <code>
/// await using var agent = new NodeAgent(options);
/// var errors = agent.Start();          // open failures per interface (e.g. no CAP_NET_RAW)
/// ...
/// await agent.StopAsync();             // stop capture, flush pipeline and spool, drain to the server
/// </code>
/// </summary>
public sealed class NodeAgent : IAsyncDisposable
{
    private readonly AgentOptions _options;
    private readonly DiskSpool _spool;
    private readonly FlightShipper _shipper;
    private readonly List<LiveCapture> _captures = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _flushGate = new();
    private readonly Dictionary<string, long> _rowsByTable = new();
    private Task? _flushLoop;
    private Task? _shipLoop;
    private long _lastReportedDrops;
    private bool _stopped;

    public NodeAgent(AgentOptions options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _spool = new DiskSpool(options.SpoolDirectory, options.SpoolMaxBytes);
        _shipper = new FlightShipper(_spool, options.Server, options.Token, options.BatchesPerPut, maxMessageBytes: options.MaxPutMessageBytes);
        Processes = options.ProcRoot is { } proc && Directory.Exists(proc) ? new SocketProcessResolver(proc) : null;
    }

    public AgentOptions Options => _options;
    /// <summary>The identity the agent's batches carry to the server (the spool's <c>agent-id</c>).</summary>
    public string AgentId => _spool.AgentId;
    /// <summary>Why <see cref="AgentId"/> is new with this start (the spool's numbering restarted), or null.</summary>
    public string? NewIdentity => _spool.NewIdentity;
    /// <summary>Why the spool's learned DoPut message limit was not used (its file unreadable or damaged), or null.</summary>
    public string? PutLimitProblem => _shipper.PutLimitProblem;
    public IReadOnlyList<LiveCapture> Captures => _captures;
    public SpoolStatistics Spool => _spool.Statistics;
    internal DiskSpool SpoolForTests => _spool;
    internal FlightShipper ShipperForTests => _shipper;
    public ShipperStatistics Shipper => _shipper.Statistics;
    /// <summary>Called after each batch the server acknowledged, in spool order.</summary>
    public Action<SpoolEntry>? Acknowledged { get => _shipper.Acknowledged; set => _shipper.Acknowledged = value; }
    public SocketProcessResolver? Processes { get; }
    public bool Running => _flushLoop is not null && !_stopped;

    /// <summary>Rows handed to the spool so far, per table.</summary>
    public IReadOnlyDictionary<string, long> RowsSpooled
    {
        get { lock (_flushGate) return new Dictionary<string, long>(_rowsByTable); }
    }

    /// <summary>
    /// Opens every interface and starts capturing and shipping. Returns the interfaces that could not
    /// be opened and why; the others run. Capture ids are random in the upper half of the id space
    /// (see docs/agent.md) so agents on many nodes never need to agree on them.
    /// </summary>
    public IReadOnlyList<CaptureError> Start()
    {
        if (_flushLoop is not null) throw new InvalidOperationException("already started");
        var errors = new List<CaptureError>();
        foreach (var name in _options.Interfaces)
        {
            var capture = new LiveCapture(name, NewCaptureId(), _options, Processes);
            var error = capture.Start();
            if (error is not null) { errors.Add(error); capture.Dispose(); continue; }
            _captures.Add(capture);
            SpoolStats(capture);        // the 'running' row first: it names the capture id
        }
        _flushLoop = Task.Run(() => FlushLoopAsync(_stop.Token));
        _shipLoop = Task.Run(() => _shipper.RunAsync(_stop.Token));
        return errors;
    }

    /// <summary>
    /// Graceful shutdown: stops every capture (the pipelines complete and emit every open flow),
    /// spools the remaining rows and the final capture_stats rows, then ships the spool for at most
    /// <see cref="AgentOptions.DrainTimeout"/>; whatever is left stays on disk for the next start.
    /// Returns true when the spool was emptied.
    /// </summary>
    public async Task<bool> StopAsync(CancellationToken ct = default)
    {
        if (_stopped || _flushLoop is null) return _spool.Statistics.PendingBatches == 0;
        _stopped = true;
        foreach (var c in _captures) c.Stop();
        foreach (var c in _captures)
        {
            try { await c.Finished.WaitAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false); }
            catch (TimeoutException) { }
        }
        _stop.Cancel();
        try { await _flushLoop.ConfigureAwait(false); } catch (OperationCanceledException) { }
        try { await _shipLoop!.ConfigureAwait(false); } catch (OperationCanceledException) { }
        FlushOnce();
        foreach (var c in _captures) SpoolStats(c);
        bool drained = await _shipper.DrainAsync(_options.DrainTimeout, ct).ConfigureAwait(false);
        if (drained && _spool.Statistics.DroppedBatches != Volatile.Read(ref _lastReportedDrops))
        {
            // The last loss record pushed older data out itself: with the spool empty now, one more
            // record carries the final totals without dropping anything.
            lock (_flushGate) ReportDrops();
            drained = await _shipper.DrainAsync(_options.DrainTimeout, ct).ConfigureAwait(false);
        }
        return drained;
    }

    private async Task FlushLoopAsync(CancellationToken ct)
    {
        var nextStats = DateTime.UtcNow + _options.StatsInterval;
        using var timer = new PeriodicTimer(_options.FlushInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                FlushOnce();
                if (DateTime.UtcNow >= nextStats)
                {
                    foreach (var c in _captures) SpoolStats(c);
                    nextStats = DateTime.UtcNow + _options.StatsInterval;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Drains every capture's buffered rows into the spool (one batch per table and capture).</summary>
    public void FlushOnce()
    {
        lock (_flushGate)
        {
            foreach (var c in _captures)
                foreach (var unit in c.DrainGroups())
                    AppendGroup(unit);
            ReportDrops();
        }
    }

    /// <summary>Spools a batch built elsewhere (tests, other producers); same path as captured rows.</summary>
    public void Enqueue(string table, RecordBatch batch)
    {
        lock (_flushGate)
        {
            Append(table, batch);
            ReportDrops();
        }
    }

    /// <summary>
    /// Spools batches that share their fate (a payloads batch and the packets batches referring to its rows):
    /// in order, in one segment, so the spool's size limit never drops the payloads and keeps the frames.
    /// </summary>
    private void AppendGroup(List<(string Table, RecordBatch Batch)> unit)
    {
        if (unit.Count == 1) { Append(unit[0].Table, unit[0].Batch); return; }
        try { _spool.AppendGroup(unit.Select(b => (b.Table, b.Batch.Length, ArrowIpc.Serialize(b.Batch))).ToList()); }
        catch (IOException) { return; }     // see Append
        foreach (var (table, batch) in unit) _rowsByTable[table] = _rowsByTable.GetValueOrDefault(table) + batch.Length;
    }

    private void Append(string table, RecordBatch batch)
    {
        // A failed spool write (disk full, EIO) counts the batch as dropped in the spool's statistics, so the loss
        // record reports it; the flush loop goes on rather than dying and leaving every later batch unspooled.
        try { _spool.Append(table, batch.Length, ArrowIpc.Serialize(batch)); }
        catch (IOException) { return; }
        _rowsByTable[table] = _rowsByTable.GetValueOrDefault(table) + batch.Length;
    }

    /// <summary>After the spool dropped data, a loss record per capture (the newest data, so it survives) tells the server.</summary>
    private void ReportDrops()
    {
        // A loss record may itself push older data out: repeat until the last record carries the totals.
        for (int round = 0; round < 4; round++)
        {
            if (_spool.Statistics.DroppedBatches == _lastReportedDrops) return;
            foreach (var c in _captures) SpoolStatsLocked(c);
            if (_captures.Count == 0) SpoolStatsLocked(null);
        }
    }

    private void SpoolStats(LiveCapture? capture)
    {
        lock (_flushGate) SpoolStatsLocked(capture);
    }

    private void SpoolStatsLocked(LiveCapture? capture)
    {
        var spool = _spool.Statistics;
        _lastReportedDrops = spool.DroppedBatches;
        var row = capture?.StatsRow(spool.DroppedRows, spool.DroppedBatches) ?? new CaptureStatsRow
        {
            StartedNs = LiveCapture.NowNs(),
            FinishedNs = LiveCapture.NowNs(),
            CaptureId = 0,
            Source = $"agent:{_options.NodeName}",
            State = "running",
            Node = _options.NodeName,
            AgentDroppedRows = spool.DroppedRows,
            AgentDroppedBatches = spool.DroppedBatches,
        };
        Append(TrafficTables.CaptureStats, new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build([row]));
    }

    /// <summary>A capture id in [2^(bits-1), 2^bits): file ingest counts up from 1, agents pick at random above it.</summary>
    internal static long NewCaptureId()
    {
        long half = (StoreIds.MaxCaptureId + 1) / 2;
        return half + RandomNumberGenerator.GetInt32((int)Math.Min(half, int.MaxValue));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped && _flushLoop is not null)
        {
            try { await StopAsync().ConfigureAwait(false); } catch (OperationCanceledException) { }
        }
        _stop.Cancel();
        foreach (var c in _captures) c.Dispose();
        _shipper.Dispose();
        _spool.Dispose();
        _stop.Dispose();
    }
}
