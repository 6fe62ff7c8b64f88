using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client;

/// <summary>
/// Puts back the bytes ingest left out of stored frames (<see cref="Ingest.FrameBodyElision"/>): for each packets row
/// with body_exchange_id set, <c>data</c> becomes stored[..body_at] + payloads body[body_offset .. +body_len] +
/// stored[body_at..]. Bodies are read once per query (payloads by exchange_id, an indexed column) and kept
/// for the following batches.
/// </summary>
internal sealed class FrameBodySplicer(TrafficStoreEngine engine)
{
    /// <summary>The packets columns a splice needs besides data.</summary>
    public static readonly string[] ReferenceColumns = ["body_exchange_id", "body_direction", "body_offset", "body_at", "body_len"];

    private readonly Dictionary<(long Exchange, string Direction), byte[]> _bodies = new();
    private readonly HashSet<long> _loaded = new();
    private long _cachedBytes;

    /// <summary>Bodies kept between batches, at most about this many bytes (a long window reads them again).</summary>
    public const long CacheBytes = 256L << 20;

    /// <summary>Frames whose body row was not found (deleted by retention): returned without the omitted bytes.</summary>
    public long Unresolved { get; private set; }

    public string? Warning => Unresolved == 0 ? null
        : $"{Unresolved} frames lack bytes kept in payloads rows that are no longer in the store (retention); their data is shorter than captured";

    public async ValueTask<RecordBatch> SpliceAsync(RecordBatch batch, CancellationToken ct)
    {
        int dataIndex = batch.Schema.GetFieldIndex("data");
        int exchangeIndex = batch.Schema.GetFieldIndex("body_exchange_id");
        if (dataIndex < 0 || exchangeIndex < 0) return batch;
        var exchange = (Int64Array)batch.Column(exchangeIndex);
        if (exchange.NullCount == batch.Length) return batch;
        var direction = (StringArray)batch.Column(batch.Schema.GetFieldIndex("body_direction"));
        var offset = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_offset"));
        var at = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_at"));
        var length = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_len"));
        var data = (BinaryArray)batch.Column(dataIndex);

        if (_cachedBytes > CacheBytes)
        {
            _bodies.Clear();
            _loaded.Clear();
            _cachedBytes = 0;
        }
        var missing = new HashSet<long>();
        for (int i = 0; i < batch.Length; i++)
            if (exchange.GetValue(i) is long x && !_loaded.Contains(x)) missing.Add(x);
        if (missing.Count > 0) await LoadAsync(missing, ct).ConfigureAwait(false);

        int n = batch.Length;
        var bytes = new ArrowBuffer.Builder<byte>(data.ValueOffsets[n] - data.ValueOffsets[0]);
        var offsets = new ArrowBuffer.Builder<int>(n + 1);
        var validity = new ArrowBuffer.BitmapBuilder(n);
        offsets.Append(0);
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            validity.Append(!data.IsNull(i));
            var stored = data.GetBytes(i);
            if (exchange.GetValue(i) is long x && _bodies.TryGetValue((x, direction.GetString(i) ?? ""), out var body)
                && Slice(body, offset.GetValue(i), length.GetValue(i), out var omitted) && at.GetValue(i) is long p && p >= 0 && p <= stored.Length)
            {
                bytes.Append(stored[..(int)p]);
                bytes.Append(omitted);
                bytes.Append(stored[(int)p..]);
                total = checked(total + stored.Length + omitted.Length);
            }
            else
            {
                if (exchange.GetValue(i) is not null) Unresolved++;
                bytes.Append(stored);
                total = checked(total + stored.Length);
            }
            offsets.Append(total);
        }
        var arrays = new IArrowArray[batch.ColumnCount];
        for (int c = 0; c < arrays.Length; c++) arrays[c] = batch.Column(c);
        arrays[dataIndex] = new BinaryArray(BinaryType.Default, n, offsets.Build(), bytes.Build(),
            data.NullCount > 0 ? validity.Build() : ArrowBuffer.Empty, data.NullCount, 0);
        return new RecordBatch(batch.Schema, arrays, n);
    }

    private static bool Slice(byte[] body, long? offset, long? length, out ReadOnlySpan<byte> slice)
    {
        slice = default;
        if (offset is not long o || length is not long l || o < 0 || l < 0 || o + l > body.Length) return false;
        slice = body.AsSpan((int)o, (int)l);
        return true;
    }

    private async Task LoadAsync(HashSet<long> exchanges, CancellationToken ct)
    {
        var spec = new QuerySpec(TrafficTables.Payloads)
        {
            Filters = [ColumnFilter.In("exchange_id", [.. exchanges.Cast<object>()])],
            Columns = ["exchange_id", "direction", "body"],
        };
        await foreach (var b in engine.QueryAsync(spec, ct).ConfigureAwait(false))
        {
            var id = (Int64Array)b.Column(0);
            var dir = (StringArray)b.Column(1);
            var body = (BinaryArray)b.Column(2);
            for (int i = 0; i < b.Length; i++)
                if (id.GetValue(i) is long x && !body.IsNull(i))
                {
                    _bodies[(x, dir.GetString(i) ?? "")] = body.GetBytes(i).ToArray();
                    _cachedBytes += body.GetBytes(i).Length;
                }
        }
        _loaded.UnionWith(exchanges);
    }
}
