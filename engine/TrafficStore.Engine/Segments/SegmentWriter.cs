using System.Buffers;
using System.Text;
using K4os.Compression.LZ4;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// Writes one segment file: header magic, then per row group one compressed chunk per column (<see cref="ChunkCompression"/>),
/// then the footer and trailer. Writes to a temp file and renames it into place in
/// <see cref="Finish"/> after an fsync, so a segment file either exists whole or not at all.
/// </summary>
/// <remarks>
/// Format 4, piece dictionary: the plain chunks of byte columns (bodies, frames) are held back until
/// <see cref="DictionaryWindowBytes"/> of them are pending (or the segment finishes); then the content-defined pieces
/// that occur at least twice among them and are not stored yet are appended to the segment's piece dictionary (in
/// blocks of <see cref="DictionaryBlockBytes"/>), and each held chunk is written as references into it plus its other
/// bytes (<see cref="RepeatedPieces"/>). A chunk still decodes alone, given the dictionary blocks it refers to (which
/// readers load once, <see cref="PieceDictionaryCache"/>); chunks are then not in row group order in the file, which
/// nothing relies on (the footer has every chunk's offset).
/// </remarks>
internal sealed class SegmentWriter : IDisposable
{
    public static ReadOnlySpan<byte> HeaderMagic => "TSSEG004"u8;
    /// <summary>The header magic of format version 3 (still read).</summary>
    public static ReadOnlySpan<byte> HeaderMagicV3 => "TSSEG003"u8;
    /// <summary>The header magic of format version 2 (still read).</summary>
    public static ReadOnlySpan<byte> HeaderMagicV2 => "TSSEG002"u8;
    /// <summary>The header magic of format version 1 (still read).</summary>
    public static ReadOnlySpan<byte> HeaderMagicV1 => "TSSEG001"u8;
    public static ReadOnlySpan<byte> TrailerMagic => "TSSEGEND"u8;
    public const int TrailerLength = 24;
    /// <summary>Strings longer than this get no zone map (a truncated max would be wrong).</summary>
    public const int MaxZoneMapBytes = 128;

    private readonly string _finalPath;
    private readonly string _tempPath;
    private readonly FileStream _file;
    private readonly TableSchema _schema;
    private readonly string _timeColumn;
    private readonly int _timeIndex;
    private readonly (string Column, int Index)[] _indexed;
    private readonly Dictionary<string, List<int>>[] _indexValues;
    private readonly Dictionary<long, List<int>>[] _indexLongs;
    private readonly long _segmentId, _partitionStart, _flushSeq;
    private long _lastPartition;
    private readonly List<RowGroupInfo> _groups = [];
    private readonly List<ChunkInfo>[] _chunks;
    private readonly ByteSink _raw = new(64 * 1024);
    private byte[] _compressed = new byte[64 * 1024];
    private long _uncompressed, _rows, _minTime = long.MaxValue, _maxTime = long.MinValue;
    private bool _finished;

    /// <summary>Raw bytes of held-back chunks that start a piece dictionary (a window: what zstd -19's 8 MiB window sees, and more).</summary>
    public const long DefaultDictionaryWindowBytes = 64L << 20;
    /// <summary>Bound of a segment's piece dictionary.</summary>
    public const long MaxDictionaryBytes = 32L << 20;
    /// <summary>The dictionary is stored in blocks of this many raw bytes, each compressed alone: a reader loads only the blocks a chunk refers to.</summary>
    public const int DictionaryBlockBytes = 256 * 1024;
    /// <summary>Byte chunks smaller than this are written at once: too small to hold a repeated piece worth a reference.</summary>
    private const int MinHeldChunkBytes = ContentDefinedPieces.MinPiece;

    private readonly record struct HeldChunk(int Column, int RowGroup, byte[] Raw, int Length, int[] ValueEdges, ChunkEncoding Encoding, ColumnType Type, int NullCount, ZoneMap Zone);

    /// <summary>Values at least this long start and end a piece (<see cref="RepeatedPieces.Add"/>): a body repeated whole is then stored once whole.</summary>
    private const int WholeValueBytes = 2 * ContentDefinedPieces.MinPiece;

    /// <summary>
    /// Offsets in a plain byte chunk (validity and lengths first, then the values back to back) where pieces must end: the
    /// end of the lengths (so the values' pieces do not depend on them) and the start and end of each large value.
    /// </summary>
    private static int[] ValueEdges(ColumnVector v, int rawLength)
    {
        int dataStart = rawLength - (v.Offsets[v.Length] - v.Offsets[0]);
        var edges = new List<int> { dataStart };
        for (int i = 0; i < v.Length; i++)
        {
            int start = v.Offsets[i], end = v.Offsets[i + 1];
            if (end - start < WholeValueBytes) continue;
            int from = dataStart + start - v.Offsets[0];
            if (edges.Count == 0 || edges[^1] != from) edges.Add(from);
            edges.Add(from + end - start);
        }
        return edges.ToArray();
    }
    private readonly List<HeldChunk> _held = [];
    private long _heldBytes;
    private readonly List<DictionaryInfo> _dictionaries = [];
    private RepeatedPieces? _pieces;
    private readonly ByteSink _referencing = new(64 * 1024);

    /// <summary>Whether byte-column chunks may refer to piece dictionaries (format 4); off, every chunk is written as it comes.</summary>
    public bool PieceDictionaries { get; init; } = true;
    /// <summary>Raw bytes of held-back byte chunks that make one dictionary window (<see cref="DefaultDictionaryWindowBytes"/>).</summary>
    public long DictionaryWindowBytes { get; init; } = DefaultDictionaryWindowBytes;

    public SegmentWriter(string finalPath, TableSchema schema, string timeColumn, IReadOnlyList<string> indexedColumns,
        long segmentId, long partitionStart, long flushSeq)
    {
        _finalPath = finalPath;
        _tempPath = StoreLayout.TempFileFor(finalPath);
        // Creates the partition directory, again if retention removed it (empty) in between (see PartitionDirectories).
        _file = PartitionDirectories.CreateFile(_tempPath, 1 << 16);
        _file.Write(HeaderMagic);
        _schema = schema;
        _timeColumn = timeColumn;
        _timeIndex = schema.IndexOf(timeColumn);
        _indexed = indexedColumns.Select(c => (c, schema.IndexOf(c))).Where(x => x.Item2 >= 0).ToArray();
        _indexValues = _indexed.Select(_ => new Dictionary<string, List<int>>(StringComparer.Ordinal)).ToArray();
        _indexLongs = _indexed.Select(_ => new Dictionary<long, List<int>>()).ToArray();
        _segmentId = segmentId;
        _partitionStart = partitionStart;
        _lastPartition = partitionStart;
        _flushSeq = flushSeq;
        _chunks = Enumerable.Range(0, schema.Count).Select(_ => new List<ChunkInfo>()).ToArray();
    }

    /// <summary>The file's size so far, counting held-back chunks at their raw size (an upper bound: the segment size bound stays a bound).</summary>
    public long Position => _file.Position + _heldBytes;
    public long Rows => _rows;
    public string TableName { get; init; } = "";
    public long Replaces { get; init; }

    /// <summary>Partitions of the row groups added so far (1 unless the caller packs several into this segment).</summary>
    public int PartitionCount { get; private set; }

    /// <summary>
    /// Appends one row group of partition <paramref name="partition"/> (rows already sorted by time, all in that
    /// partition). Partitions may only stay or grow from one row group to the next, starting at the segment's.
    /// </summary>
    public void AddRowGroup(RowBlock rows, long partition)
    {
        if (partition < _lastPartition || (_groups.Count == 0 && partition != _partitionStart))
            throw new ArgumentException("Row groups must be added in partition order, starting with the segment's partition.", nameof(partition));
        if (_groups.Count == 0 || partition != _lastPartition) PartitionCount++;
        _lastPartition = partition;
        int group = _groups.Count;
        _groups.Add(new RowGroupInfo(checked((int)_rows), rows.Length, partition));
        _rows += rows.Length;
        _uncompressed += rows.RawBytes;
        for (int c = 0; c < _schema.Count; c++)
        {
            var vector = rows.Columns[c];
            _raw.Clear();
            var encoding = ColumnCodec.Encode(vector, _raw);
            var raw = _raw.WrittenSpan;
            if (PieceDictionaries && ColumnTypes.IsBytes(vector.Type) && encoding == ChunkEncoding.Plain && raw.Length >= MinHeldChunkBytes)
            {
                var copy = ArrayPool<byte>.Shared.Rent(raw.Length); // returned when the window is written
                raw.CopyTo(copy);
                _held.Add(new HeldChunk(c, group, copy, raw.Length, ValueEdges(vector, raw.Length), encoding, vector.Type, vector.NullCount, ComputeZone(vector)));
                _heldBytes += raw.Length;
                _chunks[c].Add(null!); // written by WriteHeldChunks
                continue;
            }
            _chunks[c].Add(WriteChunk(vector.Type, raw, raw.Length, encoding, vector.NullCount, ComputeZone(vector), dictionary: 0));
        }
        if (_heldBytes >= DictionaryWindowBytes) WriteHeldChunks();

        if (_timeIndex >= 0)
        {
            var time = rows.Columns[_timeIndex];
            for (int i = 0; i < rows.Length; i++)
            {
                if (time.IsNull(i)) continue;
                _minTime = Math.Min(_minTime, time.Longs[i]);
                _maxTime = Math.Max(_maxTime, time.Longs[i]);
            }
        }
        for (int k = 0; k < _indexed.Length; k++)
        {
            var vector = rows.Columns[_indexed[k].Index];
            if (vector.Type == ColumnType.Int64)
            {
                // Numbers stay numbers until the footer is written: ids are often unique per row.
                var longs = _indexLongs[k];
                for (int i = 0; i < rows.Length; i++)
                {
                    if (vector.IsNull(i)) continue;
                    if (!longs.TryGetValue(vector.Longs[i], out var groups)) longs[vector.Longs[i]] = groups = [];
                    if (groups.Count == 0 || groups[^1] != group) groups.Add(group);
                }
                continue;
            }
            // Distinct strings of the row group first (compared as bytes), so only those become index key strings.
            var values = _indexValues[k];
            var distinct = new HashSet<int>(new RowValueComparer(vector));
            for (int i = 0; i < rows.Length; i++)
                if (!vector.IsNull(i)) distinct.Add(i);
            foreach (var row in distinct)
            {
                var key = IndexKeyText(vector, row);
                if (!values.TryGetValue(key, out var groups)) values[key] = groups = [];
                if (groups.Count == 0 || groups[^1] != group) groups.Add(group);
            }
        }
    }

    /// <summary>
    /// Compresses and writes one chunk. <paramref name="bytes"/> is the raw chunk, or (when <paramref name="dictionary"/> is
    /// not 0) its referencing form, <paramref name="rawLength"/> the raw chunk's length.
    /// </summary>
    private ChunkInfo WriteChunk(ColumnType type, ReadOnlySpan<byte> bytes, int rawLength, ChunkEncoding encoding, int nullCount, ZoneMap zone, int dictionary)
    {
        int max = ChunkCompression.MaxStoredLength(bytes.Length);
        if (_compressed.Length < max) _compressed = new byte[max];
        byte compression = ChunkCompression.Compress(type, bytes, _compressed, out var stored);
        long offset = _file.Position;
        _file.Write(stored);
        return new ChunkInfo(offset, stored.Length, rawLength, encoding, compression, Crc32C.Compute(stored), nullCount, zone)
        {
            Dictionary = dictionary,
            ReferencingLength = dictionary != 0 ? bytes.Length : 0,
        };
    }

    /// <summary>
    /// Writes the held-back byte chunks of a dictionary window: first the blocks of the pieces that repeat within the window
    /// and are not in the segment's dictionary yet, then each chunk (referring to the dictionary when it holds any of its pieces).
    /// </summary>
    private void WriteHeldChunks()
    {
        if (_held.Count == 0) return;
        var pieces = _pieces ??= new RepeatedPieces(MaxDictionaryBytes);
        var ids = new int[_held.Count];
        for (int i = 0; i < _held.Count; i++) ids[i] = pieces.Add(_held[i].Raw, _held[i].Length, _held[i].ValueEdges);
        var added = pieces.CloseWindow();
        for (int start = 0; start < added.Length; start += DictionaryBlockBytes)
        {
            var block = added.Slice(start, Math.Min(DictionaryBlockBytes, added.Length - start));
            int max = ChunkCompression.MaxStoredLength(block.Length);
            if (_compressed.Length < max) _compressed = new byte[max];
            byte compression = ChunkCompression.Compress(ColumnType.Binary, block, _compressed, out var stored);
            long offset = _file.Position;
            _file.Write(stored);
            _dictionaries.Add(new DictionaryInfo(offset, stored.Length, block.Length, compression, Crc32C.Compute(stored)));
        }
        for (int i = 0; i < _held.Count; i++)
        {
            var h = _held[i];
            bool refers = pieces.DictionaryLength > 0 && pieces.Encode(ids[i], _referencing);
            var bytes = refers ? _referencing.WrittenSpan : h.Raw.AsSpan(0, h.Length);
            _chunks[h.Column][h.RowGroup] = WriteChunk(h.Type, bytes, h.Length, h.Encoding, h.NullCount, h.Zone, refers ? 1 : 0);
        }
        pieces.EndWindow();
        ReturnHeld();
    }

    private void ReturnHeld()
    {
        foreach (var h in _held) ArrayPool<byte>.Shared.Return(h.Raw);
        _held.Clear();
        _heldBytes = 0;
    }

    /// <summary>Compares rows of one vector by value (bytes or 64-bit lane).</summary>
    private sealed class RowValueComparer(ColumnVector v) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b) => ColumnTypes.IsBytes(v.Type) ? v.GetBytes(a).SequenceEqual(v.GetBytes(b)) : v.Longs[a] == v.Longs[b];
        public int GetHashCode(int row)
        {
            if (!ColumnTypes.IsBytes(v.Type)) return v.Longs[row].GetHashCode();
            return ByteHash.Of(v.GetBytes(row));
        }
    }

    /// <summary>The text form the footer and index use for an indexed value (utf8 as is, int64 as decimal).</summary>
    public static string IndexKeyText(ColumnVector v, int row) =>
        v.Type == ColumnType.Utf8 ? Encoding.UTF8.GetString(v.GetBytes(row)) : v.Longs[row].ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static ZoneMap ComputeZone(ColumnVector v)
    {
        if (v.NullCount == v.Length || v.Type == ColumnType.Binary) return ZoneMap.None;
        if (v.Type == ColumnType.Double)
        {
            double min = double.PositiveInfinity, max = double.NegativeInfinity;
            for (int i = 0; i < v.Length; i++)
            {
                if (v.IsNull(i)) continue;
                double d = v.Doubles[i];
                if (double.IsNaN(d)) return ZoneMap.None; // NaN does not order: no zone map rather than a wrong one
                if (d < min) min = d;
                if (d > max) max = d;
            }
            return new ZoneMap(true, 0, 0, min, max, null, null);
        }
        if (v.Type == ColumnType.Utf8)
        {
            int minRow = -1, maxRow = -1;
            for (int i = 0; i < v.Length; i++)
            {
                if (v.IsNull(i)) continue;
                var b = v.GetBytes(i);
                if (b.Length > MaxZoneMapBytes) return ZoneMap.None;
                if (minRow < 0 || b.SequenceCompareTo(v.GetBytes(minRow)) < 0) minRow = i;
                if (maxRow < 0 || b.SequenceCompareTo(v.GetBytes(maxRow)) > 0) maxRow = i;
            }
            return new ZoneMap(true, 0, 0, 0, 0, v.GetBytes(minRow).ToArray(), v.GetBytes(maxRow).ToArray());
        }
        long lo = long.MaxValue, hi = long.MinValue;
        for (int i = 0; i < v.Length; i++)
        {
            if (v.IsNull(i)) continue;
            lo = Math.Min(lo, v.Longs[i]);
            hi = Math.Max(hi, v.Longs[i]);
        }
        return new ZoneMap(true, lo, hi, 0, 0, null, null);
    }

    /// <summary>
    /// Whether <see cref="Finish"/> fsyncs the directory after the rename. A caller that writes many
    /// segments and commits them later (a flush, committed by the WAL checkpoint) turns it off and
    /// syncs each directory once before the commit.
    /// </summary>
    public bool SyncDirectory { get; init; } = true;

    /// <summary>
    /// Whether <see cref="Finish"/> leaves the file at <see cref="TempPath"/>, not yet fsync'd, instead of
    /// syncing it and renaming it into place. A bulk load seals many segments as one unit: it fsyncs them
    /// all at once (concurrent fsyncs share journal commits), then renames them once a commit record
    /// lists them (see <c>TrafficStoreEngine.SealBulkAsync</c>).
    /// </summary>
    public bool DeferRename { get; init; }

    public string TempPath => _tempPath;

    /// <summary>Writes footer and trailer, fsyncs, and renames the file into place.</summary>
    public (SegmentFooter Footer, long FileBytes) Finish()
    {
        WriteHeldChunks();
        var footer = new SegmentFooter
        {
            Table = TableName,
            SegmentId = _segmentId,
            PartitionStart = _partitionStart,
            FlushSeq = _flushSeq,
            Replaces = Replaces,
            RowCount = _rows,
            MinTime = _rows == 0 ? 0 : _minTime,
            MaxTime = _rows == 0 ? 0 : _maxTime,
            CreatedUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            UncompressedBytes = _uncompressed,
            SchemaVersion = _schema.Version,
            Columns = _schema.Columns,
            TimeColumn = _timeColumn,
            RowGroups = _groups.ToArray(),
            Chunks = _chunks.Select(c => c.ToArray()).ToArray(),
            Index = _indexed.Select((x, k) => new IndexSummary(x.Column,
                _indexValues[k].OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (Encoding.UTF8.GetBytes(p.Key), p.Value.ToArray()))
                    .Concat(_indexLongs[k].OrderBy(p => p.Key).Select(p => (Encoding.UTF8.GetBytes(p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)), p.Value.ToArray())))
                    .ToList())).ToList(),
            Dictionaries = _dictionaries.ToArray(),
        };
        var sink = new ByteSink(4096);
        footer.WriteTo(sink);
        var raw = sink.WrittenSpan;
        var compressed = new byte[LZ4Codec.MaximumOutputSize(raw.Length)];
        int length = LZ4Codec.Encode(raw, compressed, LZ4Level.L00_FAST);
        if (length <= 0) throw new InvalidOperationException("LZ4 failed to compress a segment footer.");
        var stored = compressed.AsSpan(0, length);
        _file.Write(stored);

        var trailer = new ByteSink(TrailerLength);
        trailer.WriteInt32(length);
        trailer.WriteInt32(raw.Length);
        trailer.WriteUInt32(Crc32C.Compute(stored));
        trailer.WriteInt32(SegmentFooter.FormatVersion);
        trailer.WriteBytes(TrailerMagic);
        _file.Write(trailer.WrittenSpan);
        _file.Flush(flushToDisk: !DeferRename);
        long bytes = _file.Length;
        _file.Dispose();
        _finished = true;
        if (DeferRename) return (footer, bytes);
        File.Move(_tempPath, _finalPath, overwrite: true);
        if (SyncDirectory) DirectorySync.Fsync(Path.GetDirectoryName(_finalPath)!);
        return (footer, bytes);
    }

    public void Dispose()
    {
        ReturnHeld();
        if (_finished) return;
        _file.Dispose();
        try { File.Delete(_tempPath); }
        catch (IOException) { /* the temp file is removed again on the next open */ }
    }
}
