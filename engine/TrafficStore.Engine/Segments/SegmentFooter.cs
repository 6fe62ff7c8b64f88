using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>Min/max of a chunk's non-null values (absent for binary and for long strings).</summary>
internal readonly record struct ZoneMap(bool Present, long MinLong, long MaxLong, double MinDouble, double MaxDouble, byte[]? MinBytes, byte[]? MaxBytes)
{
    public static readonly ZoneMap None = new(false, 0, 0, 0, 0, null, null);
}

/// <summary>Where one column chunk of one row group lives and how it is stored.</summary>
internal sealed record ChunkInfo(long Offset, int StoredLength, int RawLength, ChunkEncoding Encoding, byte Compression, uint Crc, int NullCount, ZoneMap Zone)
{
    /// <summary>
    /// Format 4: 1 when this chunk refers to the segment's piece dictionary, else 0. Then the stored bytes decompress
    /// (per <see cref="Compression"/>) to <see cref="ReferencingLength"/> bytes of the referencing form
    /// (<see cref="PieceReferences"/>), which expand against the dictionary to the <see cref="RawLength"/> raw bytes.
    /// </summary>
    public int Dictionary { get; init; }
    /// <summary>Length of the referencing form when <see cref="Dictionary"/> is not 0.</summary>
    public int ReferencingLength { get; init; }

    /// <summary>Bytes that <see cref="Compression"/> turns the stored bytes into (the raw chunk, or its referencing form).</summary>
    public int DecompressedLength => Dictionary != 0 ? ReferencingLength : RawLength;

    public const byte Uncompressed = 0;
    public const byte Lz4Block = 1;
    /// <summary>A zstd frame (format version 2 on).</summary>
    public const byte ZstdFrame = 2;
}

/// <summary>
/// A block of a segment's piece dictionary (format 4): the dictionary (the repeated content-defined pieces of the
/// segment's byte-column chunks, stored once; docs/storage-format.md, "Piece dictionary") is stored in blocks of at
/// most <see cref="SegmentWriter.DictionaryBlockBytes"/>, each compressed and checked alone, so a reader loads only
/// the blocks a chunk's references touch. Compression and CRC as for a chunk.
/// </summary>
internal sealed record DictionaryInfo(long Offset, int StoredLength, int RawLength, byte Compression, uint Crc);

/// <summary>
/// A run of rows stored together; every column has one chunk per row group. A row group holds rows of one
/// time partition, <paramref name="Partition"/> (format 3 records it per row group: a bulk-load segment can
/// pack several partitions; for versions 1 and 2 it is the segment's partition).
/// </summary>
internal readonly record struct RowGroupInfo(int RowStart, int RowCount, long Partition);

/// <summary>For one indexed column: each distinct value and the row groups that contain it.</summary>
internal sealed record IndexSummary(string Column, IReadOnlyList<(byte[] Value, int[] RowGroups)> Values);

/// <summary>The self-description at the end of a segment file (see docs/storage-format.md).</summary>
internal sealed class SegmentFooter
{
    /// <summary>
    /// The version this build writes: 2 added zstd chunks (compression 2) and the "TSSEG002" header magic; 3 the
    /// partition of each row group (a segment may pack several consecutive partitions) and "TSSEG003"; 4 piece
    /// dictionaries (byte-column chunks may refer to the repeated pieces of their segment, stored once) and "TSSEG004".
    /// </summary>
    public const ushort FormatVersion = 4;
    /// <summary>The oldest version this build still reads (version 1: LZ4 or raw chunks only).</summary>
    public const ushort OldestReadableVersion = 1;

    public static bool IsReadable(int version) => version >= OldestReadableVersion && version <= FormatVersion;

    public required string Table { get; init; }
    public required long SegmentId { get; init; }
    /// <summary>The partition of the first row group: the oldest one the segment holds (its only one unless <see cref="IsPacked"/>).</summary>
    public required long PartitionStart { get; init; }
    /// <summary>The flush that wrote this segment sealed WAL records up to this sequence number.</summary>
    public required long FlushSeq { get; init; }
    /// <summary>Id of the segment this one rewrote (retention), 0 if none; the older one is deleted on open if it survived a crash.</summary>
    public long Replaces { get; init; }
    public required long RowCount { get; init; }
    public required long MinTime { get; init; }
    public required long MaxTime { get; init; }
    public required long CreatedUnixMs { get; init; }
    /// <summary>Size of the rows as plain columns (8 bytes per number, string bytes + 4-byte offsets, validity bits), for compression ratios.</summary>
    public required long UncompressedBytes { get; init; }
    public required int SchemaVersion { get; init; }
    public required IReadOnlyList<ColumnDefinition> Columns { get; init; }
    public required string TimeColumn { get; init; }
    public required RowGroupInfo[] RowGroups { get; init; }
    /// <summary>[column][rowGroup].</summary>
    public required ChunkInfo[][] Chunks { get; init; }
    public required IReadOnlyList<IndexSummary> Index { get; init; }
    /// <summary>Format 4: the blocks of the piece dictionary, in dictionary order (their raw bytes back to back are the dictionary); empty before.</summary>
    public DictionaryInfo[] Dictionaries { get; init; } = [];

    public long RawBytes => Chunks.Sum(c => c.Sum(x => (long)x.RawLength));

    private long _estimatedMemoryBytes;

    /// <summary>
    /// Roughly what this footer takes in memory (object and array headers, chunk directory, zone-map bytes, index
    /// values and their row-group lists): what <see cref="PieceDictionaryCache"/> charges for keeping it alive. An
    /// estimate from counts (no measurement of the runtime's layout), computed once.
    /// </summary>
    public long EstimatedMemoryBytes => _estimatedMemoryBytes != 0 ? _estimatedMemoryBytes : _estimatedMemoryBytes = EstimateMemoryBytes();

    private long EstimateMemoryBytes()
    {
        const int ObjectHeader = 24, Reference = 8;
        long bytes = 256 + Table.Length * 2 + TimeColumn.Length * 2;
        bytes += Columns.Count * (ObjectHeader + 32L);
        bytes += ObjectHeader + RowGroups.Length * 16L;
        foreach (var column in Chunks)
        {
            bytes += ObjectHeader + column.Length * (long)Reference;
            foreach (var chunk in column)
                bytes += ObjectHeader + 96 + (chunk.Zone.MinBytes?.Length + ObjectHeader ?? 0) + (chunk.Zone.MaxBytes?.Length + ObjectHeader ?? 0);
        }
        bytes += Dictionaries.Length * (ObjectHeader + 32L + Reference);
        foreach (var summary in Index)
        {
            bytes += ObjectHeader + 32;
            foreach (var (value, groups) in summary.Values)
                bytes += 2 * ObjectHeader + value.Length + groups.Length * 4L + 16;
        }
        return bytes;
    }

    private long[]? _partitions;

    /// <summary>The distinct partitions of the row groups, ascending (row groups are in time order, so their partitions never decrease).</summary>
    public IReadOnlyList<long> Partitions => _partitions ??= DistinctPartitions();

    /// <summary>Whether the segment packs row groups of more than one partition (format 3, bulk load).</summary>
    public bool IsPacked => Partitions.Count > 1;

    private long[] DistinctPartitions()
    {
        if (RowGroups.Length == 0) return [PartitionStart];
        var list = new List<long>();
        foreach (var g in RowGroups)
            if (list.Count == 0 || list[^1] != g.Partition) list.Add(g.Partition);
        return [.. list];
    }

    /// <summary>
    /// The smallest and largest time of the rows in <paramref name="groups"/>, from the time column's zone maps
    /// (the segment's range when the time column has none).
    /// </summary>
    public (long Min, long Max) TimeRange(IEnumerable<int> groups)
    {
        int t = ColumnIndex(TimeColumn);
        long min = long.MaxValue, max = long.MinValue;
        foreach (int g in groups)
        {
            if (t < 0 || !Chunks[t][g].Zone.Present) return (MinTime, MaxTime);
            min = Math.Min(min, Chunks[t][g].Zone.MinLong);
            max = Math.Max(max, Chunks[t][g].Zone.MaxLong);
        }
        return min > max ? (MinTime, MaxTime) : (min, max);
    }

    public int ColumnIndex(string name)
    {
        for (int i = 0; i < Columns.Count; i++) if (Columns[i].Name == name) return i;
        return -1;
    }

    // Whole-segment summaries of each column, computed on first use: planning checks them once per
    // segment before checking every row group, so a query without a time window does not pay
    // row groups × segments zone-map checks. Footers are shared by concurrent queries; a race only
    // computes an entry twice (same value).
    private ChunkInfo?[]? _wholeSegment;

    /// <summary>
    /// Footer column <paramref name="c"/> over all row groups: null count summed, zone map the union of the
    /// row groups' (absent if any row group's is). Offsets and lengths are meaningless; only for zone-map checks.
    /// </summary>
    public ChunkInfo WholeSegment(int c)
    {
        var all = _wholeSegment ??= new ChunkInfo?[Columns.Count];
        if (all[c] is { } done) return done;
        var chunks = Chunks[c];
        long nulls = 0;
        bool present = chunks.Length > 0;
        long minLong = long.MaxValue, maxLong = long.MinValue;
        double minDouble = double.PositiveInfinity, maxDouble = double.NegativeInfinity;
        byte[]? minBytes = null, maxBytes = null;
        bool bytesKnown = true;
        foreach (var chunk in chunks)
        {
            nulls += chunk.NullCount;
            var z = chunk.Zone;
            if (!z.Present) { present = false; continue; }
            minLong = Math.Min(minLong, z.MinLong);
            maxLong = Math.Max(maxLong, z.MaxLong);
            minDouble = Math.Min(minDouble, z.MinDouble);
            maxDouble = Math.Max(maxDouble, z.MaxDouble);
            if (z.MinBytes is null || z.MaxBytes is null) { bytesKnown = false; continue; }
            if (minBytes is null || z.MinBytes.AsSpan().SequenceCompareTo(minBytes) < 0) minBytes = z.MinBytes;
            if (maxBytes is null || z.MaxBytes.AsSpan().SequenceCompareTo(maxBytes) > 0) maxBytes = z.MaxBytes;
        }
        var zone = present ? new ZoneMap(true, minLong, maxLong, minDouble, maxDouble, bytesKnown ? minBytes : null, bytesKnown ? maxBytes : null) : ZoneMap.None;
        // A null count that does not fit an int cannot equal a row count: nothing is ruled out on nulls alone.
        var whole = new ChunkInfo(0, 0, 0, default, 0, 0, nulls > int.MaxValue ? -1 : (int)nulls, zone);
        all[c] = whole;
        return whole;
    }

    public void WriteTo(ByteSink sink)
    {
        sink.WriteInt32(FormatVersion);
        sink.WriteString(Table);
        sink.WriteInt64(SegmentId);
        sink.WriteInt64(PartitionStart);
        sink.WriteInt64(FlushSeq);
        sink.WriteInt64(Replaces);
        sink.WriteInt64(RowCount);
        sink.WriteInt64(MinTime);
        sink.WriteInt64(MaxTime);
        sink.WriteInt64(CreatedUnixMs);
        sink.WriteInt64(UncompressedBytes);
        sink.WriteInt32(SchemaVersion);
        sink.WriteString(TimeColumn);
        sink.WriteVarUInt((ulong)Columns.Count);
        foreach (var c in Columns) { sink.WriteString(c.Name); sink.WriteByte((byte)c.Type); }
        sink.WriteVarUInt((ulong)RowGroups.Length);
        long partition = PartitionStart;
        foreach (var g in RowGroups)
        {
            sink.WriteVarUInt((ulong)g.RowStart);
            sink.WriteVarUInt((ulong)g.RowCount);
            // Format 3: the row group's partition as the step from the previous one (the first from PartitionStart).
            sink.WriteVarUInt(checked((ulong)(g.Partition - partition)));
            partition = g.Partition;
        }
        for (int c = 0; c < Columns.Count; c++)
        {
            foreach (var chunk in Chunks[c])
            {
                sink.WriteInt64(chunk.Offset);
                sink.WriteInt32(chunk.StoredLength);
                sink.WriteInt32(chunk.RawLength);
                sink.WriteByte((byte)chunk.Encoding);
                sink.WriteByte(chunk.Compression);
                sink.WriteUInt32(chunk.Crc);
                sink.WriteVarUInt((ulong)chunk.NullCount);
                WriteZone(sink, Columns[c].Type, chunk.Zone);
                // Format 4: whether the chunk refers to the piece dictionary (0 or 1), then the length of its referencing form.
                sink.WriteVarUInt((ulong)chunk.Dictionary);
                if (chunk.Dictionary != 0) sink.WriteVarUInt((ulong)chunk.ReferencingLength);
            }
        }
        sink.WriteVarUInt((ulong)Dictionaries.Length);
        foreach (var d in Dictionaries)
        {
            sink.WriteInt64(d.Offset);
            sink.WriteInt32(d.StoredLength);
            sink.WriteInt32(d.RawLength);
            sink.WriteByte(d.Compression);
            sink.WriteUInt32(d.Crc);
        }
        sink.WriteVarUInt((ulong)Index.Count);
        foreach (var summary in Index)
        {
            sink.WriteString(summary.Column);
            sink.WriteVarUInt((ulong)summary.Values.Count);
            foreach (var (value, groups) in summary.Values)
            {
                sink.WriteBlob(value);
                sink.WriteVarUInt((ulong)groups.Length);
                int prev = 0;
                foreach (var g in groups) { sink.WriteVarUInt((ulong)(g - prev)); prev = g; }
            }
        }
    }

    private static void WriteZone(ByteSink sink, ColumnType type, ZoneMap zone)
    {
        sink.WriteByte(zone.Present ? (byte)1 : (byte)0);
        if (!zone.Present) return;
        if (type == ColumnType.Double) { sink.WriteDouble(zone.MinDouble); sink.WriteDouble(zone.MaxDouble); }
        else if (ColumnTypes.IsBytes(type)) { sink.WriteBlob(zone.MinBytes); sink.WriteBlob(zone.MaxBytes); }
        else { sink.WriteInt64(zone.MinLong); sink.WriteInt64(zone.MaxLong); }
    }

    public static SegmentFooter ReadFrom(ReadOnlySpan<byte> data)
    {
        var src = new ByteSource(data);
        int version = src.ReadInt32();
        if (!IsReadable(version)) throw new InvalidDataException($"Unsupported segment format version {version}.");
        var table = src.ReadString();
        long segmentId = src.ReadInt64(), partitionStart = src.ReadInt64(), flushSeq = src.ReadInt64(), replaces = src.ReadInt64(), rowCount = src.ReadInt64();
        long minTime = src.ReadInt64(), maxTime = src.ReadInt64(), created = src.ReadInt64(), uncompressed = src.ReadInt64();
        int schemaVersion = src.ReadInt32();
        var timeColumn = src.ReadString();
        int columnCount = src.ReadCount();
        var columns = new List<ColumnDefinition>(columnCount);
        for (int i = 0; i < columnCount; i++)
        {
            var name = src.ReadString();
            var type = (ColumnType)src.ReadByte();
            if (!Enum.IsDefined(type)) throw new InvalidDataException($"Unknown column type {(byte)type}.");
            columns.Add(new ColumnDefinition(name, type));
        }
        int groupCount = src.ReadCount();
        var groups = new RowGroupInfo[groupCount];
        long partition = partitionStart;
        for (int g = 0; g < groupCount; g++)
        {
            int start = src.ReadCount(), count = src.ReadCount();
            if (version >= 3)
            {
                ulong step = src.ReadVarUInt();
                if (step > long.MaxValue || partition > long.MaxValue - (long)step) throw new InvalidDataException("row group partition out of range");
                partition += (long)step;
            }
            groups[g] = new RowGroupInfo(start, count, partition);
        }
        var chunks = new ChunkInfo[columnCount][];
        for (int c = 0; c < columnCount; c++)
        {
            chunks[c] = new ChunkInfo[groupCount];
            for (int g = 0; g < groupCount; g++)
            {
                long offset = src.ReadInt64();
                int stored = src.ReadInt32(), raw = src.ReadInt32();
                var encoding = (ChunkEncoding)src.ReadByte();
                byte compression = src.ReadByte();
                uint crc = src.ReadUInt32();
                int nulls = src.ReadCount();
                var zone = ReadZone(ref src, columns[c].Type);
                int dictionary = 0, referencing = 0;
                if (version >= 4)
                {
                    dictionary = src.ReadCount();
                    if (dictionary != 0) referencing = src.ReadCount();
                }
                chunks[c][g] = new ChunkInfo(offset, stored, raw, encoding, compression, crc, nulls, zone) { Dictionary = dictionary, ReferencingLength = referencing };
            }
        }
        DictionaryInfo[] dictionaries = [];
        if (version >= 4)
        {
            dictionaries = new DictionaryInfo[src.ReadCount()];
            for (int d = 0; d < dictionaries.Length; d++)
            {
                long offset = src.ReadInt64();
                int stored = src.ReadInt32(), raw = src.ReadInt32();
                byte compression = src.ReadByte();
                dictionaries[d] = new DictionaryInfo(offset, stored, raw, compression, src.ReadUInt32());
                if (stored < 0 || raw < 0) throw new InvalidDataException("dictionary length out of range");
            }
            foreach (var column in chunks)
                foreach (var chunk in column)
                    if (chunk.Dictionary != 0 && (chunk.Dictionary != 1 || dictionaries.Length == 0)) throw new InvalidDataException("chunk names a piece dictionary the segment does not have");
        }
        int indexCount = src.ReadCount();
        var index = new List<IndexSummary>(indexCount);
        for (int i = 0; i < indexCount; i++)
        {
            var column = src.ReadString();
            int valueCount = src.ReadCount();
            var values = new List<(byte[], int[])>(valueCount);
            for (int v = 0; v < valueCount; v++)
            {
                var value = src.ReadBlob().ToArray();
                var list = new int[src.ReadCount()];
                int prev = 0;
                for (int k = 0; k < list.Length; k++) { prev += src.ReadCount(); list[k] = prev; }
                if (list.Length > 0 && (uint)list[^1] >= (uint)groupCount) throw new InvalidDataException("index names a row group out of range");
                values.Add((value, list));
            }
            index.Add(new IndexSummary(column, values));
        }
        return new SegmentFooter
        {
            Table = table, SegmentId = segmentId, PartitionStart = partitionStart, FlushSeq = flushSeq, Replaces = replaces, RowCount = rowCount,
            MinTime = minTime, MaxTime = maxTime, CreatedUnixMs = created, UncompressedBytes = uncompressed, SchemaVersion = schemaVersion, Columns = columns,
            TimeColumn = timeColumn, RowGroups = groups, Chunks = chunks, Index = index, Dictionaries = dictionaries,
        };
    }

    private static ZoneMap ReadZone(ref ByteSource src, ColumnType type)
    {
        if (src.ReadByte() == 0) return ZoneMap.None;
        if (type == ColumnType.Double) return new ZoneMap(true, 0, 0, src.ReadDouble(), src.ReadDouble(), null, null);
        if (ColumnTypes.IsBytes(type)) return new ZoneMap(true, 0, 0, 0, 0, src.ReadBlob().ToArray(), src.ReadBlob().ToArray());
        return new ZoneMap(true, src.ReadInt64(), src.ReadInt64(), 0, 0, null, null);
    }
}
