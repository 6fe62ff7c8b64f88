using System.Buffers.Binary;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Wal;

/// <summary>
/// The highest <see cref="DeliveryMark"/> stored per source, with when the source was last seen. A mark is raised
/// only once its rows are durable (the WAL record that carries both is fsync'd), so marks and rows cannot part:
/// after a crash the WAL replay raises the marks of the records it reads. Sealed WAL files are deleted by a flush,
/// so before a flush seals anything the marks are written to <c>wal/deliveries</c>; recovery starts from that file
/// and raises it with every WAL record still on disk (the highest mark any durable source shows wins).
/// <para>
/// Bounded: at most <see cref="StoreOptions.MaxDeliverySources"/> sources (a new one past it is refused, see
/// <see cref="TryAdmit"/>), and a source not seen for <see cref="StoreOptions.DeliveryMarkMaxIdle"/> loses its mark
/// (<see cref="ExpireIdle"/>): a batch it resends after that is stored again. Thread-safe.
/// </para>
/// <code>
/// file   := magic "TSDM" | u8 version (1) | u32 count | count × (string source | i64 batch | i64 row end | i64 last seen, unix seconds)
///           | u32 crc32c of everything before it
/// legacy := u32 count | count × (string source | i64 batch | i64 row end) | u32 crc32c   (2026-11-26 before expiry; read, last seen = open time)
/// </code>
/// </summary>
internal sealed class DeliveryMarks
{
    private const uint Magic = 0x4D445354; // "TSDM" little-endian
    private const byte Version = 1;

    private readonly record struct Entry(DeliveryMark Mark, long LastSeenSeconds);

    private readonly Dictionary<string, Entry> _marks = new(StringComparer.Ordinal);
    // New sources whose first append is under way: they hold a place under the limit until their mark is raised.
    private readonly HashSet<string> _admitting = new(StringComparer.Ordinal);
    private long _expired;
    private long _lastFullScanSeconds = long.MinValue;
    private bool _dirty;

    public int Count
    {
        get { lock (_marks) return _marks.Count; }
    }

    /// <summary>Marks removed by <see cref="ExpireIdle"/> since the store was opened.</summary>
    public long Expired => Interlocked.Read(ref _expired);

    public DeliveryMark? Get(string source)
    {
        lock (_marks) return _marks.TryGetValue(source, out var e) ? e.Mark : null;
    }

    /// <summary>
    /// Raises <paramref name="source"/>'s mark to <paramref name="mark"/> (a lower mark changes nothing) and notes it
    /// as seen at <paramref name="now"/>.
    /// </summary>
    public void Raise(string source, DeliveryMark mark, DateTimeOffset now)
    {
        lock (_marks)
        {
            _admitting.Remove(source);
            long seen = now.ToUnixTimeSeconds();
            if (_marks.TryGetValue(source, out var current))
            {
                if (current.Mark.CompareTo(mark) >= 0 && current.LastSeenSeconds >= seen) return;
                if (current.Mark.CompareTo(mark) > 0) mark = current.Mark;
                seen = Math.Max(seen, current.LastSeenSeconds);
            }
            _marks[source] = new Entry(mark, seen);
            _dirty = true;
        }
    }

    /// <summary>
    /// Called before each append of <paramref name="source"/>. A known source is noted as seen now (so it cannot
    /// expire while it delivers) and admitted. A new one is admitted while the marks (and the new sources being
    /// admitted) are fewer than <paramref name="limit"/>, after marks idle longer than <paramref name="maxIdle"/> made
    /// room; then it holds a place until its mark is raised or <see cref="EndAdmission"/>. False: refuse it.
    /// </summary>
    public bool TryAdmit(string source, DateTimeOffset now, int limit, TimeSpan maxIdle)
    {
        lock (_marks)
        {
            if (_marks.TryGetValue(source, out var e))
            {
                long seen = now.ToUnixTimeSeconds();
                if (seen > e.LastSeenSeconds)
                {
                    _marks[source] = e with { LastSeenSeconds = seen };
                    _dirty = true;
                }
                return true;
            }
            if (_admitting.Contains(source)) return true;
            if (_marks.Count + _admitting.Count >= limit)
            {
                // At the limit, look for idle marks at most once a second: a client sending new ids as fast as it can
                // must not make every refusal a walk over all the marks.
                long second = now.ToUnixTimeSeconds();
                if (second == _lastFullScanSeconds) return false;
                _lastFullScanSeconds = second;
                ExpireIdleLocked(now, maxIdle);
            }
            if (_marks.Count + _admitting.Count >= limit) return false;
            _admitting.Add(source);
            return true;
        }
    }

    /// <summary>Ends the admission of a new source whose append did not raise a mark (it failed or stored nothing).</summary>
    public void EndAdmission(string source)
    {
        lock (_marks) _admitting.Remove(source);
    }

    /// <summary>Removes the marks of sources not seen for longer than <paramref name="maxIdle"/>; returns how many.</summary>
    public int ExpireIdle(DateTimeOffset now, TimeSpan maxIdle)
    {
        lock (_marks) return ExpireIdleLocked(now, maxIdle);
    }

    private int ExpireIdleLocked(DateTimeOffset now, TimeSpan maxIdle)
    {
        long cutoff = now.ToUnixTimeSeconds() - (long)Math.Min(maxIdle.TotalSeconds, long.MaxValue / 2);
        List<string>? idle = null;
        foreach (var (source, e) in _marks)
            if (e.LastSeenSeconds < cutoff) (idle ??= []).Add(source);
        if (idle is null) return 0;
        foreach (var source in idle) _marks.Remove(source);
        _dirty = true;
        Interlocked.Add(ref _expired, idle.Count);
        return idle.Count;
    }

    /// <summary>How many rows at the start of <paramref name="delivery"/> (of <paramref name="rows"/> rows) are already stored.</summary>
    public long StoredRows(Delivery delivery, long rows)
    {
        if (Get(delivery.Source) is not { } mark || delivery.Batch > mark.Batch) return 0;
        if (delivery.Batch < mark.Batch) return rows;
        return Math.Clamp(mark.RowEnd - delivery.FirstRow, 0, rows);
    }

    /// <summary>Reads the marks file; sources of a legacy file (no last-seen time) count as seen at <paramref name="now"/>.</summary>
    public static DeliveryMarks Load(string path, DateTimeOffset now)
    {
        var marks = new DeliveryMarks();
        if (!File.Exists(path)) return marks;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8 || Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
            throw new InvalidDataException($"Delivery marks '{path}' are damaged; refusing to guess which agent batches are stored (duplicates or losses would follow).");
        var src = new ByteSource(bytes.AsSpan(0, bytes.Length - 4));
        uint first = src.ReadUInt32();
        bool versioned = first == Magic;
        if (versioned)
        {
            byte version = src.ReadByte();
            if (version != Version) throw new InvalidDataException($"Delivery marks '{path}' have version {version}; this engine reads version {Version}.");
        }
        uint count = versioned ? src.ReadUInt32() : first;
        for (uint i = 0; i < count; i++)
        {
            string source = src.ReadString();
            var mark = new DeliveryMark(src.ReadInt64(), src.ReadInt64());
            long seen = versioned ? src.ReadInt64() : now.ToUnixTimeSeconds();
            marks._marks[source] = new Entry(mark, seen);
        }
        return marks;
    }

    /// <summary>Writes the marks durably (replacing the file atomically) when they changed since the last save.</summary>
    public void SaveIfChanged(string path)
    {
        byte[] bytes;
        lock (_marks)
        {
            if (!_dirty) return;
            var sink = new ByteSink(64 + _marks.Count * 72);
            sink.WriteUInt32(Magic);
            sink.WriteByte(Version);
            sink.WriteUInt32((uint)_marks.Count);
            foreach (var (source, e) in _marks.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                sink.WriteString(source);
                sink.WriteInt64(e.Mark.Batch);
                sink.WriteInt64(e.Mark.RowEnd);
                sink.WriteInt64(e.LastSeenSeconds);
            }
            sink.WriteUInt32(Crc32C.Compute(sink.WrittenSpan));
            bytes = sink.ToArray();
            _dirty = false;
        }
        try { DurableFile.Replace(path, bytes); }
        catch
        {
            lock (_marks) _dirty = true;
            throw;
        }
    }
}
