namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>
/// One conversation of the synthetic capture (a TCP connection, a DNS exchange...), written as an
/// iterator that builds one frame per step into <see cref="Frame"/>. The generator merges all live
/// scripts by <see cref="TimestampNs"/>, so a script must produce its frames in time order.
/// </summary>
internal abstract class ConversationScript
{
    /// <summary>Largest frame a script may build (Ethernet + IPv6 + TCP with options + MSS).</summary>
    public const int FrameCapacity = 2048;

    private IEnumerator<int>? _steps;
    private long _lastTimestamp = long.MinValue;

    protected ConversationScript(ConversationEnvironment context, long startNs)
    {
        Context = context;
        Rng = new Random(context.Random.Next());
        Now = startNs;
    }

    protected ConversationEnvironment Context { get; }
    protected Random Rng { get; }

    /// <summary>The script's own clock (capture time of the next frame, ns since the epoch).</summary>
    protected long Now { get; set; }

    /// <summary>The frame built by the latest step; handed to the generator by reference.</summary>
    public byte[] Frame { get; } = new byte[FrameCapacity];
    public int FrameLength { get; protected set; }
    public long TimestampNs { get; protected set; }

    /// <summary>Creation order; breaks timestamp ties deterministically.</summary>
    public long Order { get; set; }

    /// <summary>Approximate bytes on the wire this script will produce (used to spread the load).</summary>
    public abstract long PlannedBytes { get; }

    /// <summary>Builds the next frame; false when the script has finished.</summary>
    public bool Advance()
    {
        _steps ??= Steps().GetEnumerator();
        if (!_steps.MoveNext()) return false;
        // A script's frames must never go back in time, or the merged file would be out of order.
        if (TimestampNs < _lastTimestamp) TimestampNs = _lastTimestamp;
        _lastTimestamp = TimestampNs;
        return true;
    }

    protected abstract IEnumerable<int> Steps();

    /// <summary>A jittered duration: <paramref name="ns"/> ± <paramref name="fraction"/>.</summary>
    protected long Jitter(long ns, double fraction = 0.15) =>
        Math.Max(1, (long)(ns * (1 + fraction * (2 * Rng.NextDouble() - 1))));
}
