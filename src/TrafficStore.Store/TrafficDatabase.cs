using Apache.Arrow;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store;

/// <summary>Options of a <see cref="TrafficDatabase"/>; <see cref="Engine"/> adjusts the engine's options (partitioning, flush, retention interval).</summary>
public sealed record TrafficDatabaseOptions
{
    public Func<StoreOptions, StoreOptions>? Engine { get; init; }

    /// <summary>
    /// Where the engine's messages go (background flush and retention included). The default writes
    /// warnings and errors to stderr, so a failing background flush is never silent.
    /// </summary>
    public Action<StoreLogLevel, string>? Log { get; init; } = WarningsToStandardError;

    public static TrafficDatabaseOptions Default { get; } = new();

    public static void WarningsToStandardError(StoreLogLevel level, string message)
    {
        if (level >= StoreLogLevel.Warning) Console.Error.WriteLine($"trafficstore: store {level.ToString().ToLowerInvariant()}: {message}");
    }
}

/// <summary>
/// A TrafficStore store directory: the engine with every table of <see cref="TrafficTables"/>
/// registered. Opening creates the directory when missing and recovers it when it was not closed.
/// Capture ids (see <see cref="StoreIds"/>) are handed out here.
/// </summary>
public sealed class TrafficDatabase : IAsyncDisposable
{
    private readonly SemaphoreSlim _captureIds = new(1, 1);
    private long? _lastCaptureId;

    private TrafficDatabase(string directory, TrafficStoreEngine engine)
    {
        Directory = directory;
        Engine = engine;
    }

    /// <summary>$XDG_DATA_HOME/trafficstore, else ~/.local/share/trafficstore.</summary>
    public static string DefaultDirectory
    {
        get
        {
            var xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            var root = !string.IsNullOrEmpty(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
            return Path.Combine(root, "trafficstore");
        }
    }

    public string Directory { get; }
    public TrafficStoreEngine Engine { get; }

    public static TrafficDatabase Open(string directory, TrafficDatabaseOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= TrafficDatabaseOptions.Default;
        // The engine creates the directory (durably: its parent is fsync'd), so it is not created here.
        var engineOptions = new StoreOptions(directory) { MaxUnsealedBytes = 32L << 20, Log = options.Log };
        if (options.Engine is { } adjust) engineOptions = adjust(engineOptions);
        var engine = TrafficStoreEngine.Open(engineOptions);
        try
        {
            foreach (var table in TrafficTables.All) engine.RegisterTable(table.Spec);
        }
        catch
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        return new TrafficDatabase(directory, engine);
    }

    /// <summary>
    /// Reserves the next capture id and records it durably as a 'started' capture_stats row, so a run
    /// that crashes half way never has its id handed out again.
    /// </summary>
    public async Task<long> BeginCaptureAsync(string source, string? k8sSnapshot, CancellationToken ct = default)
    {
        await _captureIds.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            long last = _lastCaptureId ?? await MaxCaptureIdAsync(ct).ConfigureAwait(false);
            long id = last + 1;
            if (id > StoreIds.MaxCaptureId) throw new InvalidOperationException("The store has used every capture id.");
            var row = new CaptureStatsRow { StartedNs = NowNs(), CaptureId = id, Source = source, State = "started", K8sSnapshot = k8sSnapshot };
            await Engine.AppendAsync(TrafficTables.CaptureStats, new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build([row]), ct).ConfigureAwait(false);
            _lastCaptureId = id;
            return id;
        }
        finally { _captureIds.Release(); }
    }

    private async Task<long> MaxCaptureIdAsync(CancellationToken ct)
    {
        long max = 0;
        var q = new QuerySpec(TrafficTables.CaptureStats).Select("capture_id");
        await foreach (var batch in Engine.QueryAsync(q, ct).ConfigureAwait(false))
        {
            var ids = (Int64Array)batch.Column(0);
            for (int i = 0; i < ids.Length; i++) if (ids.GetValue(i) is long v && v > max) max = v;
        }
        return max;
    }

    /// <summary>
    /// Appends a batch sent by an agent (Flight DoPut) after checking it against the table's schema:
    /// every column must exist in the table with the same Arrow type (columns left out are stored as
    /// nulls), and the time column must be present. Durable when it returns.
    /// </summary>
    public ValueTask<AppendResult> AppendBatchAsync(string table, RecordBatch batch, CancellationToken ct = default)
    {
        CheckBatch(table, batch);
        return Engine.AppendAsync(table, batch, ct);
    }

    /// <summary>
    /// As <see cref="AppendBatchAsync"/>, at most once per <paramref name="delivery"/>: rows of an agent's batch the
    /// store already has (the agent resent it after a lost acknowledgement) are skipped and counted in
    /// <see cref="AppendResult.DuplicateRows"/> (<see cref="TrafficStoreEngine.AppendOnceAsync"/>).
    /// </summary>
    public ValueTask<AppendResult> AppendBatchOnceAsync(string table, RecordBatch batch, Delivery delivery, CancellationToken ct = default)
    {
        CheckBatch(table, batch);
        // The source's mark is first_row + rows: it must not wrap (a negative mark matches no later resend).
        if (delivery.FirstRow > long.MaxValue - batch.Length)
            throw new ArgumentException($"first_row {delivery.FirstRow} + {batch.Length} rows is past a 64-bit row number");
        return Engine.AppendOnceAsync(table, batch, delivery, ct);
    }

    private static void CheckBatch(string table, RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!TrafficTables.TryGet(table, out var t))
            throw new ArgumentException($"unknown table '{table}' (tables: {string.Join(", ", TrafficTables.Names)})");
        var schema = t.Schema;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var field in batch.Schema.FieldsList)
        {
            // A second column of the same name would silently replace the first.
            if (!seen.Add(field.Name)) throw new ArgumentException($"the batch has column '{field.Name}' twice");
            int i = schema.GetFieldIndex(field.Name);
            if (i < 0) throw new ArgumentException($"table '{table}' has no column '{field.Name}'");
            var expected = schema.GetFieldByIndex(i).DataType;
            if (!SameType(expected, field.DataType))
                throw new ArgumentException($"column '{field.Name}' of table '{table}' is {Describe(expected)}, the batch has {Describe(field.DataType)}");
        }
        if (batch.Schema.GetFieldIndex(t.Spec.TimeColumn) < 0)
            throw new ArgumentException($"the batch lacks the time column '{t.Spec.TimeColumn}' of table '{table}'");
        if (table == TrafficTables.Payloads) CheckDecodedLengths(batch);
    }

    /// <summary>
    /// A payloads row's <c>body_decoded_len</c> is how far a read decodes its body again (<see cref="DecodedBodyDerivation"/>),
    /// so a client's row may not promise more than the read-time cap: a few MB of gzip naming 2 GiB would otherwise be
    /// inflated on every query of it. The store's own ingest never records past that cap unless run with a higher one.
    /// </summary>
    private static void CheckDecodedLengths(RecordBatch batch)
    {
        int i = batch.Schema.GetFieldIndex("body_decoded_len");
        if (i < 0 || batch.Column(i) is not Int64Array lengths) return;
        for (int r = 0; r < lengths.Length; r++)
        {
            if (lengths.GetValue(r) is long n && (n < 0 || n > DecodedBodyDerivation.MaxDecodedBytes))
                throw new ArgumentException($"row {r}: body_decoded_len {n} is outside 0..{DecodedBodyDerivation.MaxDecodedBytes} (the most a read decodes a stored body to)");
        }
    }

    private static bool SameType(Apache.Arrow.Types.IArrowType a, Apache.Arrow.Types.IArrowType b) =>
        a.TypeId == b.TypeId
        && (a is not Apache.Arrow.Types.TimestampType ta || b is Apache.Arrow.Types.TimestampType { Unit: var u } && u == ta.Unit)
        && (a is not Apache.Arrow.Types.DurationType da || b is Apache.Arrow.Types.DurationType { Unit: var du } && du == da.Unit);

    private static string Describe(Apache.Arrow.Types.IArrowType type) => type switch
    {
        Apache.Arrow.Types.TimestampType t => $"timestamp[{t.Unit}]",
        Apache.Arrow.Types.DurationType d => $"duration[{d.Unit}]",
        _ => type.Name,
    };

    internal static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync().ConfigureAwait(false);
        _captureIds.Dispose();
    }
}
