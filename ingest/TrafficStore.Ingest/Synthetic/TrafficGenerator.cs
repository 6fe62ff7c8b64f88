using System.Diagnostics;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Synthetic.Cluster;
using TrafficStore.Ingest.Synthetic.Conversations;
using TrafficStore.Ingest.Synthetic.Payloads;

namespace TrafficStore.Ingest.Synthetic;

/// <summary>
/// Makes a realistic, deterministic capture of Kubernetes pod traffic: HTTP/1.1, gRPC over h2c,
/// DNS, TLS and a set of TCP troubles between pods (10.244.0.0/16) and service ClusterIPs
/// (10.96.0.0/16), as Ethernet frames in capture-time order, plus the matching Kubernetes snapshot.
/// </summary>
/// <remarks>
/// Every conversation is a <see cref="ConversationScript"/> producing its frames in time order; the
/// generator merges the live scripts with a priority queue on (timestamp, creation order) and
/// starts new random conversations lazily as capture time reaches them, so memory stays bounded
/// by the conversations open at one moment, whatever the size of the output.
/// Read frames with <see cref="TryReadNext"/> (the span is valid until the next call), or write
/// them with <see cref="WriteTo(PcapWriter)"/> / <see cref="GenerateToFile"/>.
/// </remarks>
public sealed class TrafficGenerator
{
    private readonly TrafficGeneratorOptions _options;
    private readonly ConversationEnvironment _context;
    private readonly ConversationPlanner _planner;
    private readonly PriorityQueue<ConversationScript, (long, long)> _live = new();
    private readonly long _startNs, _endNs;
    private readonly long _randomBytesGoal;
    private readonly int _randomCountGoal;
    private long _randomPlannedBytes;
    private int _randomStarted;
    private long _nextArrivalNs;
    private long _order;
    private ConversationScript? _current;

    public TrafficGenerator(TrafficGeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        var rng = new Random(options.Seed);
        Topology = new ClusterTopology(new Random(options.Seed * 31 + 7), options.StartTime.AddDays(-3));
        var payloads = new PayloadLibrary(new Random(options.Seed * 17 + 3), options.StartTime, options.CertificateDer);
        _context = new ConversationEnvironment(rng, Topology, payloads, Summary);
        _planner = new ConversationPlanner(_context, options);
        _startNs = options.StartTime.ToUnixTimeMilliseconds() * 1_000_000;
        _endNs = _startNs + options.Duration.Ticks * 100;

        long tourBytes = 0;
        if (options.IncludeFeatureTour)
            foreach (ConversationScript script in _planner.FeatureTour(_startNs, _endNs))
            {
                tourBytes += script.PlannedBytes;
                Start(script);
            }

        if (options.ConnectionCount is int count) { _randomCountGoal = count; _randomBytesGoal = long.MaxValue; }
        else
        {
            _randomCountGoal = int.MaxValue;
            _randomBytesGoal = Math.Max(0, (options.TargetBytes ?? TrafficGeneratorOptions.Demo.TargetBytes!.Value) - tourBytes);
        }
        _nextArrivalNs = NextArrival();
    }

    public TrafficGeneratorOptions Options => _options;

    /// <summary>The simulated cluster the traffic runs in (same seed, same cluster).</summary>
    public ClusterTopology Topology { get; }

    /// <summary>Counts so far; final once <see cref="TryReadNext"/> returned false.</summary>
    public GenerationSummary Summary { get; } = new();

    /// <summary>
    /// The next frame in capture order: an Ethernet frame and its timestamp (ns since the epoch).
    /// The span is valid until the next call. Allocation-free per frame except when a new
    /// conversation starts.
    /// </summary>
    public bool TryReadNext(out long timestampNs, out ReadOnlySpan<byte> frame)
    {
        // Advance the script whose frame was handed out last time, now that the caller is done with it.
        if (_current is not null)
        {
            if (_current.Advance()) _live.Enqueue(_current, (_current.TimestampNs, _current.Order));
            _current = null;
        }
        while (_nextArrivalNs != long.MaxValue && (_live.Count == 0 || _nextArrivalNs <= _live.Peek().TimestampNs))
        {
            ConversationScript script = _planner.Random(_nextArrivalNs);
            _randomPlannedBytes += script.PlannedBytes;
            _randomStarted++;
            Start(script);
            _nextArrivalNs = NextArrival();
        }
        if (!_live.TryDequeue(out ConversationScript? next, out _))
        {
            timestampNs = 0;
            frame = default;
            return false;
        }
        _current = next;
        timestampNs = next.TimestampNs;
        frame = next.Frame.AsSpan(0, next.FrameLength);
        if (Summary.Frames == 0) Summary.FirstTimestampNs = timestampNs;
        Summary.LastTimestampNs = timestampNs;
        Summary.Frames++;
        Summary.FrameBytes += frame.Length;
        return true;
    }

    private void Start(ConversationScript script)
    {
        script.Order = _order++;
        if (script.Advance()) _live.Enqueue(script, (script.TimestampNs, script.Order));
    }

    /// <summary>
    /// Start time of the next random conversation: spread evenly over the duration by planned
    /// bytes (for a byte target) or by count, with a little jitter; MaxValue when done.
    /// </summary>
    private long NextArrival()
    {
        long span = _endNs - _startNs;
        double fraction;
        if (_randomCountGoal != int.MaxValue)
        {
            if (_randomStarted >= _randomCountGoal) return long.MaxValue;
            fraction = (_randomStarted + _context.Random.NextDouble()) / _randomCountGoal;
        }
        else
        {
            if (_randomPlannedBytes >= _randomBytesGoal) return long.MaxValue;
            fraction = (double)_randomPlannedBytes / _randomBytesGoal;
        }
        // Leave the last 5% of the span for conversations to finish inside the capture window.
        long at = _startNs + (long)(span * 0.95 * Math.Clamp(fraction, 0, 1)) + _context.Random.Next(1_000_000);
        return Math.Max(at, _nextArrivalNs == 0 ? _startNs : _nextArrivalNs);
    }

    /// <summary>Writes every frame to <paramref name="writer"/>; returns the summary.</summary>
    public GenerationSummary WriteTo(PcapWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var clock = Stopwatch.StartNew();
        // Count the file header too when this generation starts the file.
        long before = writer.FrameCount == 0 ? 0 : writer.BytesWritten;
        while (TryReadNext(out long ts, out ReadOnlySpan<byte> frame)) writer.WriteFrame(ts, frame, frame.Length);
        writer.Flush();
        Summary.FileBytes = writer.BytesWritten - before;
        Summary.Elapsed = clock.Elapsed;
        return Summary;
    }

    /// <summary>Generates a whole capture into a classic pcap file (nanosecond timestamps, Ethernet).</summary>
    public static GenerationSummary GenerateToFile(string path, TrafficGeneratorOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var generator = new TrafficGenerator(options);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        using var writer = new PcapWriter(file, LinkType.Ethernet, bufferSize: 4 << 20);
        return generator.WriteTo(writer);
    }

    /// <summary>
    /// Writes the cluster as <c>kubectl get pods,services,endpointslices,nodes -A -o json</c>.
    /// Depends only on the seed and start time, so it can be written before or after the frames.
    /// </summary>
    public void WriteKubernetesSnapshot(Stream output) => KubernetesSnapshotWriter.Write(Topology, output);

    public void WriteKubernetesSnapshot(string path)
    {
        using var file = File.Create(path);
        WriteKubernetesSnapshot(file);
    }

    /// <summary>A fresh self-signed certificate of the kind the TLS 1.2 servers present (for fixing it across runs).</summary>
    public static byte[] CreateServerCertificate(DateTimeOffset start) => PayloadLibrary.CreateCertificate(start);
}
