using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client;

/// <summary>
/// Gives packets rows their <c>data</c> whole, as captured: puts back the bytes ingest left out of stored frames
/// (<see cref="Ingest.FrameBodyElision"/>) — for each row with body_exchange_id set, the stored data becomes
/// stored[..body_at] + payloads body[body_offset .. +body_len] + stored[body_at..] — and then, for rows with
/// frame_header set (packets v4), the headers in front, their predicted fields restored
/// (<see cref="Ingest.FrameHeaders.Restore"/>). frame_header is returned empty.
/// </summary>
/// <remarks>
/// Bodies are read from payloads by exchange_id (an indexed column: the index narrows the read to the row
/// groups holding the ids, each decoded whole), all those a batch lacks in one query, and kept between batches
/// in a <see cref="PayloadBodyCache"/>: a body leaves once a frame holding its last byte has been spliced, and
/// the least recently used leave beyond <c>cacheBytes</c>, except those the last batch used and did not finish.
/// Memory is therefore about that bound plus the bodies one batch refers to, whatever the length of the read;
/// a body needed again after it left is read again.
/// </remarks>
internal sealed class FrameBodySplicer(TrafficStoreEngine engine, long cacheBytes = FrameBodySplicer.DefaultCacheBytes)
{
    /// <summary>The packets columns a splice needs besides data.</summary>
    public static readonly string[] ReferenceColumns = ["body_exchange_id", "body_direction", "body_offset", "body_at", "body_len", "frame_header", "link_type"];

    /// <summary>
    /// Bytes of bodies kept between batches by default (<see cref="Export.PcapExportOptions.BodyCacheBytes"/>): a safety
    /// net, since bodies leave when their last frame passes and the last batch's open bodies are kept anyway; what it
    /// drops are mostly bodies whose end is never seen (a last piece too short to be left out of its frame).
    /// On the synthetic benchmark store 1 MiB and 16 MiB read the same bodies (no body read twice).
    /// </summary>
    public const long DefaultCacheBytes = 4L << 20;

    private readonly PayloadBodyCache _cache = new(cacheBytes);
    private readonly List<(long Exchange, string Direction)> _finished = new();

    /// <summary>The bodies kept (tests and diagnostics read its figures).</summary>
    public PayloadBodyCache Cache => _cache;

    /// <summary>Payloads queries made and body rows they returned.</summary>
    public long BodyQueries { get; private set; }
    public long BodiesRead { get; private set; }

    /// <summary>Frames whose body row was not found (deleted by retention): returned without the omitted bytes.</summary>
    public long Unresolved { get; private set; }

    /// <summary>Frames whose stored headers did not parse back to their own length (damaged rows): returned with the headers as stored.</summary>
    public long UnrestoredHeaders { get; private set; }

    public string? Warning => Unresolved == 0 && UnrestoredHeaders == 0 ? null
        : string.Join("; ", new[]
        {
            Unresolved == 0 ? null : $"{Unresolved} frames lack bytes kept in payloads rows that are no longer in the store (retention); their data is shorter than captured",
            UnrestoredHeaders == 0 ? null : $"{UnrestoredHeaders} frames have stored headers that do not parse back; their header lengths and checksums are as stored, not as captured",
        }.Where(w => w is not null));

    public async ValueTask<RecordBatch> SpliceAsync(RecordBatch batch, CancellationToken ct)
    {
        int n = batch.Length;
        int dataIndex = batch.Schema.GetFieldIndex("data");
        if (dataIndex < 0) return batch;
        int exchangeIndex = batch.Schema.GetFieldIndex("body_exchange_id");
        int headerIndex = batch.Schema.GetFieldIndex("frame_header");
        var exchange = exchangeIndex < 0 ? null : (Int64Array)batch.Column(exchangeIndex);
        var headers = headerIndex < 0 ? null : (BinaryArray)batch.Column(headerIndex);
        bool bodies = exchange is not null && exchange.NullCount < n;
        bool split = headers is not null && headers.NullCount < n;
        if (!bodies && !split) return batch;
        var data = (BinaryArray)batch.Column(dataIndex);

        StringArray? direction = null;
        Int64Array? offset = null, at = null, length = null;
        if (bodies)
        {
            direction = (StringArray)batch.Column(batch.Schema.GetFieldIndex("body_direction"));
            offset = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_offset"));
            at = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_at"));
            length = (Int64Array)batch.Column(batch.Schema.GetFieldIndex("body_len"));
            HashSet<(long, string)>? missing = null;
            for (int i = 0; i < n; i++)
                if (exchange!.GetValue(i) is long x && !_cache.TryGet(x, Direction(direction, i), out _))
                    (missing ??= new()).Add((x, Direction(direction, i)));
            if (missing is not null) await LoadAsync(missing, ct).ConfigureAwait(false);
        }
        Int64Array? link = null;
        if (split)
        {
            int linkIndex = batch.Schema.GetFieldIndex("link_type");
            if (linkIndex < 0) throw new ArgumentException("a packets batch with frame_header needs link_type to restore the headers", nameof(batch));
            link = (Int64Array)batch.Column(linkIndex);
        }

        // Each row's parts: [header][stored[..at]][omitted body bytes][stored[at..]].
        var omitted = new ReadOnlyMemory<byte>[n];
        var cut = new int[n];
        long total = 0;
        for (int i = 0; i < n; i++)
        {
            var stored = data.GetBytes(i);
            cut[i] = stored.Length;
            if (bodies && exchange!.GetValue(i) is long x)
            {
                string dir = Direction(direction!, i);
                if (_cache.TryGet(x, dir, out var body) && body is not null
                    && Slice(body, offset!.GetValue(i), length!.GetValue(i), out var part) && at!.GetValue(i) is long p && p >= 0 && p <= stored.Length)
                {
                    omitted[i] = part;
                    cut[i] = (int)p;
                    // This frame holds the body's last byte: the frames that refer to it have passed (a retransmission
                    // after this reads it again).
                    if (offset!.GetValue(i) + length!.GetValue(i) == body.Length) _finished.Add((x, dir));
                }
                else Unresolved++;
            }
            total += stored.Length + omitted[i].Length + (split && !headers!.IsNull(i) ? headers.GetBytes(i).Length : 0);
        }
        var bytes = new byte[checked((int)total)];
        var offsets = new int[n + 1];
        int pos = 0;
        for (int i = 0; i < n; i++)
        {
            int start = pos;
            var header = split && !headers!.IsNull(i) ? headers.GetBytes(i) : default;
            var stored = data.GetBytes(i);
            header.CopyTo(bytes.AsSpan(pos)); pos += header.Length;
            stored[..cut[i]].CopyTo(bytes.AsSpan(pos)); pos += cut[i];
            omitted[i].Span.CopyTo(bytes.AsSpan(pos)); pos += omitted[i].Length;
            stored[cut[i]..].CopyTo(bytes.AsSpan(pos)); pos += stored.Length - cut[i];
            if (!header.IsEmpty && !Ingest.FrameHeaders.Restore((TrafficStore.Ingest.Capture.LinkType)(link!.GetValue(i) ?? 0), bytes.AsSpan(start, pos - start), header.Length))
                UnrestoredHeaders++;
            offsets[i + 1] = pos;
        }
        // The batch's bytes are copied: finished bodies leave, and the rest is cut back to the bound.
        foreach (var (x, dir) in _finished) _cache.Finish(x, dir);
        _finished.Clear();
        _cache.Trim();

        var arrays = new IArrowArray[batch.ColumnCount];
        for (int c = 0; c < arrays.Length; c++) arrays[c] = batch.Column(c);
        arrays[dataIndex] = new BinaryArray(BinaryType.Default, n, new ArrowBuffer(MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray()), new ArrowBuffer(bytes),
            data.NullCount > 0 ? Validity(data) : ArrowBuffer.Empty, data.NullCount, 0);
        if (headers is not null)
            arrays[headerIndex] = new BinaryArray(BinaryType.Default, n, new ArrowBuffer(new byte[4 * (n + 1)]), ArrowBuffer.Empty, new ArrowBuffer(new byte[(n + 7) / 8]), n, 0);
        return new RecordBatch(batch.Schema, arrays, n);
    }

    private static ArrowBuffer Validity(BinaryArray data)
    {
        var validity = new ArrowBuffer.BitmapBuilder(data.Length);
        for (int i = 0; i < data.Length; i++) validity.Append(!data.IsNull(i));
        return validity.Build();
    }

    private static bool Slice(byte[] body, long? offset, long? length, out ReadOnlyMemory<byte> slice)
    {
        slice = default;
        if (offset is not long o || length is not long l || o < 0 || l < 0 || o + l > body.Length) return false;
        slice = body.AsMemory((int)o, (int)l);
        return true;
    }

    /// <summary>"c2s" and "s2c" without a string per row.</summary>
    private static string Direction(StringArray direction, int i)
    {
        var bytes = direction.GetBytes(i, out bool isNull);
        if (isNull) return "";
        if (bytes.SequenceEqual("c2s"u8)) return "c2s";
        if (bytes.SequenceEqual("s2c"u8)) return "s2c";
        return direction.GetString(i) ?? "";
    }

    /// <summary>
    /// Reads the bodies of <paramref name="rows"/> in one payloads query. An exchange's response comes along
    /// and is kept too (its frames follow the request's); rows not found are remembered as such.
    /// </summary>
    private async Task LoadAsync(HashSet<(long Exchange, string Direction)> rows, CancellationToken ct)
    {
        var spec = new QuerySpec(TrafficTables.Payloads)
        {
            Filters = [ColumnFilter.In("exchange_id", [.. rows.Select(r => r.Exchange).Distinct().Cast<object>()])],
            Columns = ["exchange_id", "direction", "body"],
        };
        BodyQueries++;
        await foreach (var b in engine.QueryAsync(spec, ct).ConfigureAwait(false))
        {
            var id = (Int64Array)b.Column(0);
            var dir = (StringArray)b.Column(1);
            var body = (BinaryArray)b.Column(2);
            for (int i = 0; i < b.Length; i++)
                if (id.GetValue(i) is long x && !body.IsNull(i))
                {
                    string d = Direction(dir, i);
                    // A request's frames precede its response's: an unasked-for request body has passed.
                    if (!rows.Remove((x, d)) && (d != "s2c" || body.GetBytes(i).IsEmpty)) continue;
                    _cache.Add(x, d, body.GetBytes(i).ToArray());
                    BodiesRead++;
                }
        }
        foreach (var (x, d) in rows) _cache.Add(x, d, null);
    }
}
