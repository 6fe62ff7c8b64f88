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
/// <see cref="TryAdmit"/>), and a source not seen for <see cref="StoreOptions.DeliveryMarkMaxIdle"/> of the store's
/// <b>active time</b> loses its mark (<see cref="ExpireIdle"/>): a batch it resends after that is stored again.
/// </para>
/// <para>
/// Active time (<see cref="ActiveSeconds"/>) is a clock of the store's own: the value saved in the marks file, advanced
/// by monotonic elapsed time (<see cref="TimeProvider.GetElapsedTime(long)"/>) while the store is open. Time the store
/// is down does not count (agents cannot resend to a store that is down: an open after 30+ days must not expire every
/// mark and have every resend stored twice), and neither do jumps of the wall clock (a clock far in the future until NTP
/// corrects it). A crash loses at most the active time since the last save: marks then live a little longer, never
/// shorter. Thread-safe; saving snapshots the marks under the lock and serialises and writes them outside it, so the
/// WAL's durability callback (<see cref="Raise"/>) never waits for a save.
/// </para>
/// <code>
/// file   := magic "TSDM" | u8 version (2) | i64 active seconds | u32 count
///           | count × (string source | i64 batch | i64 row end | i64 last seen, active seconds) | u32 crc32c of everything before it
/// v1     := magic "TSDM" | u8 version (1) | u32 count | count × (string source | i64 batch | i64 row end | i64 last seen, unix seconds)
///           | u32 crc32c   (session 4; read: every source counts as seen at open, its wall-clock time is not trusted)
/// legacy := u32 count | count × (string source | i64 batch | i64 row end) | u32 crc32c   (2026-11-26 before expiry; read, last seen = open time)
/// </code>
/// </summary>
internal sealed class DeliveryMarks
{
    private const uint Magic = 0x4D445354; // "TSDM" little-endian
    private const byte Version = 2;
    private const byte WallClockVersion = 1;
    /// <summary>With no mark changed, the marks file is still rewritten at a flush once active time moved this far since it was saved.</summary>
    internal static readonly TimeSpan ClockSaveInterval = TimeSpan.FromHours(1);

    private readonly record struct Entry(DeliveryMark Mark, long LastSeenSeconds);

    private readonly Dictionary<string, Entry> _marks = new(StringComparer.Ordinal);
    // New sources whose first append is under way: they hold a place under the limit until their mark is raised.
    private readonly HashSet<string> _admitting = new(StringComparer.Ordinal);
    private long _expired;
    private long _lastFullScanSeconds = long.MinValue;
    private bool _dirty;
    private readonly TimeProvider _time;
    private readonly long _openedAt;          // _time's timestamp at open
    private readonly long _activeAtOpen;      // active seconds saved in the file read at open
    private long _savedActiveSeconds;         // active seconds in the file as last written (or read)
    private readonly Lock _saving = new();    // one save at a time, so an older snapshot never overwrites a newer one

    /// <summary>Test seam: runs after a save took its snapshot, before it serialises (outside the marks lock).</summary>
    internal Action? Serialising;

    public DeliveryMarks(TimeProvider? time = null, long activeSeconds = 0)
    {
        _time = time ?? TimeProvider.System;
        _openedAt = _time.GetTimestamp();
        _activeAtOpen = _savedActiveSeconds = activeSeconds;
    }

    /// <summary>The store's active time in seconds: as saved, plus the monotonic time elapsed since this store opened.</summary>
    public long ActiveSeconds => _activeAtOpen + (long)_time.GetElapsedTime(_openedAt).TotalSeconds;

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
    /// as seen now (active time).
    /// </summary>
    public void Raise(string source, DeliveryMark mark)
    {
        long seen = ActiveSeconds;
        lock (_marks)
        {
            _admitting.Remove(source);
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
    public bool TryAdmit(string source, int limit, TimeSpan maxIdle)
    {
        long now = ActiveSeconds;
        lock (_marks)
        {
            if (_marks.TryGetValue(source, out var e))
            {
                long seen = now;
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
                long second = now;
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

    /// <summary>Removes the marks of sources not seen for longer than <paramref name="maxIdle"/> of active time; returns how many.</summary>
    public int ExpireIdle(TimeSpan maxIdle)
    {
        long now = ActiveSeconds;
        lock (_marks) return ExpireIdleLocked(now, maxIdle);
    }

    private int ExpireIdleLocked(long now, TimeSpan maxIdle)
    {
        long cutoff = now - (long)Math.Min(maxIdle.TotalSeconds, long.MaxValue / 2);
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

    /// <summary>
    /// Reads the marks file; its active clock goes on from the value saved. Sources of a file without active times (v1:
    /// wall-clock times; legacy: none) count as seen at open.
    /// </summary>
    public static DeliveryMarks Load(string path, TimeProvider time)
    {
        if (!File.Exists(path)) return new DeliveryMarks(time);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8 || Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
            throw new InvalidDataException($"Delivery marks '{path}' are damaged; refusing to guess which agent batches are stored (duplicates or losses would follow).");
        var src = new ByteSource(bytes.AsSpan(0, bytes.Length - 4));
        uint first = src.ReadUInt32();
        byte version = 0;
        if (first == Magic)
        {
            version = src.ReadByte();
            if (version is not (Version or WallClockVersion)) throw new InvalidDataException($"Delivery marks '{path}' have version {version}; this engine reads versions {WallClockVersion} and {Version}.");
        }
        long active = version == Version ? src.ReadInt64() : 0;
        var marks = new DeliveryMarks(time, active);
        uint count = version != 0 ? src.ReadUInt32() : first;
        for (uint i = 0; i < count; i++)
        {
            string source = src.ReadString();
            var mark = new DeliveryMark(src.ReadInt64(), src.ReadInt64());
            long seen = version != 0 ? src.ReadInt64() : active;
            if (version != Version) seen = active; // a wall-clock time (v1) says nothing about the store's active time
            marks._marks[source] = new Entry(mark, seen);
        }
        return marks;
    }

    /// <summary>
    /// Writes the marks durably (replacing the file atomically) when they changed since the last save, or when the active
    /// clock moved at least <paramref name="clockSlack"/> since (with marks to age; <see cref="TimeSpan.Zero"/>: any move).
    /// Returns after the file is durable, so a caller that saves before it seals keeps the file ahead of its segments.
    /// The marks are copied under the lock; sorting, serialising and writing happen outside it.
    /// </summary>
    public void SaveIfChanged(string path, TimeSpan clockSlack)
    {
        lock (_saving)
        {
            KeyValuePair<string, Entry>[] snapshot;
            long active = ActiveSeconds;
            lock (_marks)
            {
                bool clockMoved = _marks.Count > 0 && active - _savedActiveSeconds >= Math.Max(1, (long)clockSlack.TotalSeconds);
                if (!_dirty && !clockMoved) return;
                snapshot = [.. _marks];
                _dirty = false;
            }
            try
            {
                Serialising?.Invoke();
                Array.Sort(snapshot, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
                var sink = new ByteSink(64 + snapshot.Length * 72);
                sink.WriteUInt32(Magic);
                sink.WriteByte(Version);
                sink.WriteInt64(active);
                sink.WriteUInt32((uint)snapshot.Length);
                foreach (var (source, e) in snapshot)
                {
                    sink.WriteString(source);
                    sink.WriteInt64(e.Mark.Batch);
                    sink.WriteInt64(e.Mark.RowEnd);
                    // A mark raised after the snapshot's clock reading carries a later time: never ahead of the file's clock.
                    sink.WriteInt64(Math.Min(e.LastSeenSeconds, active));
                }
                sink.WriteUInt32(Crc32C.Compute(sink.WrittenSpan));
                DurableFile.Replace(path, sink.WrittenSpan);
                _savedActiveSeconds = active;
            }
            catch
            {
                lock (_marks) _dirty = true;
                throw;
            }
        }
    }
}
