using System.Buffers.Binary;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Wal;

/// <summary>
/// The highest <see cref="DeliveryMark"/> stored per source. A mark is raised only once its rows are durable
/// (the WAL record that carries both is fsync'd), so marks and rows cannot part: after a crash the WAL replay
/// raises the marks of the records it replays. Sealed WAL files are deleted by a flush, so before a flush
/// commits (writes the WAL checkpoint) the marks are written to <c>wal/deliveries</c>; recovery starts
/// from that file and raises it with the replayed records. Thread-safe.
/// <code>
/// file := u32 count | count × (string source | i64 batch | i64 row end) | u32 crc32c of everything before it
/// </code>
/// </summary>
internal sealed class DeliveryMarks
{
    private readonly Dictionary<string, DeliveryMark> _marks = new(StringComparer.Ordinal);
    private bool _dirty;

    public int Count
    {
        get { lock (_marks) return _marks.Count; }
    }

    public DeliveryMark? Get(string source)
    {
        lock (_marks) return _marks.TryGetValue(source, out var m) ? m : null;
    }

    /// <summary>Raises <paramref name="source"/>'s mark to <paramref name="mark"/> (a lower mark changes nothing).</summary>
    public void Raise(string source, DeliveryMark mark)
    {
        lock (_marks)
        {
            if (_marks.TryGetValue(source, out var current) && current.CompareTo(mark) >= 0) return;
            _marks[source] = mark;
            _dirty = true;
        }
    }

    /// <summary>How many rows at the start of <paramref name="delivery"/> (of <paramref name="rows"/> rows) are already stored.</summary>
    public long StoredRows(Delivery delivery, long rows)
    {
        if (Get(delivery.Source) is not { } mark || delivery.Batch > mark.Batch) return 0;
        if (delivery.Batch < mark.Batch) return rows;
        return Math.Clamp(mark.RowEnd - delivery.FirstRow, 0, rows);
    }

    public static DeliveryMarks Load(string path)
    {
        var marks = new DeliveryMarks();
        if (!File.Exists(path)) return marks;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8 || Crc32C.Compute(bytes.AsSpan(0, bytes.Length - 4)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)))
            throw new InvalidDataException($"Delivery marks '{path}' are damaged; refusing to guess which agent batches are stored (duplicates or losses would follow).");
        var src = new ByteSource(bytes.AsSpan(0, bytes.Length - 4));
        uint count = src.ReadUInt32();
        for (uint i = 0; i < count; i++)
        {
            string source = src.ReadString();
            marks._marks[source] = new DeliveryMark(src.ReadInt64(), src.ReadInt64());
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
            var sink = new ByteSink(64 + _marks.Count * 64);
            sink.WriteUInt32((uint)_marks.Count);
            foreach (var (source, mark) in _marks.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                sink.WriteString(source);
                sink.WriteInt64(mark.Batch);
                sink.WriteInt64(mark.RowEnd);
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
