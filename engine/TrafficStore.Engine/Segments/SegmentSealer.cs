using System.Runtime.InteropServices;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// Turns rows of one table into sealed segments: sorts them by time, splits them at partition
/// boundaries, cuts row groups by row count and raw size, and starts a new segment when the
/// file reaches the size bound.
/// </summary>
internal sealed class SegmentSealer(StoreLayout layout, StoreOptions options, Func<long> nextSegmentId)
{
    public long PartitionNs => options.PartitionDuration.Ticks * 100;

    public long PartitionOf(long timeNs)
    {
        long d = PartitionNs;
        long r = timeNs % d;
        return timeNs - (r < 0 ? r + d : r);
    }

    /// <summary>
    /// Writes <paramref name="blocks"/> (any schema versions of the table) as segments; returns them in time order.
    /// All or nothing: if any write fails, the segments already written by this call are deleted.
    /// </summary>
    public List<SegmentHandle> Seal(TableDefinition table, IReadOnlyList<RowBlock> blocks, long flushSeq)
    {
        var result = new List<SegmentHandle>();
        try
        {
            foreach (var group in Groups(blocks, options.MaxSealGroupBytes)) SealInto(table, group, flushSeq, result);
            // A flush's segments are not committed until the WAL checkpoint that follows (open deletes
            // segments of an uncommitted flush), so one directory fsync per directory here, before
            // returning, is as safe as one per file.
            foreach (var dir in result.Select(h => Path.GetDirectoryName(h.Path)!).Distinct(StringComparer.Ordinal))
                DirectorySync.Fsync(dir);
            if (result.Count > 1) result.Sort((a, b) => a.Footer.MinTime != b.Footer.MinTime ? a.Footer.MinTime.CompareTo(b.Footer.MinTime) : a.Id.CompareTo(b.Id));
            return result;
        }
        catch
        {
            foreach (var written in result) File.Delete(written.Path);
            throw;
        }
    }

    /// <summary>
    /// A retention rewrite: writes the row groups <paramref name="rowGroups"/> yields — those of <paramref name="original"/>
    /// that are kept, in its order, each in one partition and already sorted, some with rows taken out — as exactly one
    /// segment (a packed original stays packed; it lives in the folder of its first kept partition) whose footer names the
    /// original as the segment it <c>replaces</c>. The file is fsync'd, renamed into place and its directory fsync'd before
    /// this returns, so the caller may then delete the original: open deletes an original whose replacement exists, and
    /// a crash before the rename leaves only a temp file. One row group is in memory at a time; none is sorted or cut
    /// again. Null when no row is left (nothing is written). On failure the temp file is deleted.
    /// </summary>
    public SegmentHandle? Rewrite(TableDefinition table, SegmentFooter original, IEnumerable<(long Partition, RowBlock Rows)> rowGroups)
    {
        SegmentWriter? writer = null;
        string? path = null;
        try
        {
            foreach (var (partition, rows) in rowGroups)
            {
                if (rows.Length == 0) continue;
                if (writer is null)
                {
                    long id = nextSegmentId();
                    path = layout.SegmentFile(table.Name, partition, id);
                    writer = new SegmentWriter(path, table.Schema, table.TimeColumn, table.IndexedColumns, id, partition, original.FlushSeq)
                    {
                        TableName = table.Name,
                        Replaces = original.SegmentId,
                        PieceDictionaries = options.PieceDictionaries,
                        SyncDirectory = true,
                    };
                }
                writer.AddRowGroup(rows.Conform(table.Schema), partition);
            }
            if (writer is null) return null;
            var (footer, bytes) = writer.Finish();
            return new SegmentHandle(path!, footer, bytes);
        }
        finally
        {
            writer?.Dispose(); // after Finish: nothing; else deletes the temp file
        }
    }

    /// <summary>
    /// The bulk-load seal: writes <paramref name="blocks"/> (appended in this order) as segments left under
    /// their temp names and not yet fsync'd (<see cref="SegmentWriter.DeferRename"/>): the caller commits
    /// them as one unit. A partition holding at least <see cref="StoreOptions.SparsePartitionBytes"/> of the
    /// unit's rows gets segments of its own (one per partition, cut at <see cref="StoreOptions.MaxSegmentBytes"/>);
    /// consecutive partitions with fewer are packed into one segment (format 3: row groups never span
    /// partitions, the footer records each row group's partition), also cut at <c>MaxSegmentBytes</c> — a
    /// capture sparse in time then gives a few files instead of one per table and minute it touches.
    /// Rows already in time order (the usual case for a capture) are cut into row groups straight from the
    /// blocks, one copy per row group; otherwise they are sorted first. All or nothing: on failure the temp
    /// files written so far are deleted.
    /// </summary>
    public List<(SegmentHandle Handle, string TempPath)> SealUncommitted(TableDefinition table, IReadOnlyList<RowBlock> blocks)
    {
        var schema = table.Schema;
        int timeIndex = schema.IndexOf(table.TimeColumn);
        var parts = blocks.Select(b => b.Conform(schema)).Where(b => b.Length > 0).ToList();

        var result = new List<(SegmentHandle, string)>();
        SegmentWriter? writer = null;
        string? path = null;
        bool writerPacks = false;
        long writerPartition = 0;
        // Raw bytes of the unit's rows per partition: which partitions are sparse enough to pack.
        var partitionBytes = new Dictionary<long, long>();
        long fixedPerRow = schema.Columns.Where(c => !ColumnTypes.IsBytes(c.Type)).Sum(c => c.Type == ColumnType.Bool ? 1 : 8);
        int[] byteColumns = Enumerable.Range(0, schema.Count).Where(c => ColumnTypes.IsBytes(schema.Columns[c].Type)).ToArray();
        long RowBytes(RowBlock block, int row)
        {
            long bytes = fixedPerRow;
            foreach (int c in byteColumns) bytes += block.Columns[c].Offsets[row + 1] - block.Columns[c].Offsets[row];
            return bytes;
        }
        try
        {
            if (InTimeOrder(parts, timeIndex)) SealInOrder();
            else SealSorted();
            if (writer is not null) Finish();
            return result;
        }
        catch
        {
            writer?.Dispose();
            foreach (var (_, temp) in result) File.Delete(temp);
            throw;
        }

        void SealInOrder()
        {
            foreach (var block in parts)
            {
                var time = block.Columns[timeIndex].Longs;
                for (int i = 0; i < block.Length; i++)
                    CollectionsMarshal.GetValueRefOrAddDefault(partitionBytes, PartitionOf(time[i]), out _) += RowBytes(block, i);
            }
            int b = 0, r = 0;
            var pieces = new List<(RowBlock, int, int)>();
            while (b < parts.Count)
            {
                // One row group: consecutive rows of one partition, bounded by rows and raw bytes, possibly spanning blocks.
                pieces.Clear();
                long partition = PartitionOf(parts[b].Columns[timeIndex].Longs[r]);
                int total = 0;
                long bytes = 0;
                while (b < parts.Count)
                {
                    var block = parts[b];
                    var time = block.Columns[timeIndex].Longs;
                    int start = r;
                    while (r < block.Length && total < options.RowGroupRows && bytes < options.RowGroupMaxBytes && PartitionOf(time[r]) == partition)
                    {
                        long rowBytes = RowBytes(block, r);
                        if (CrossesBound(total, bytes, rowBytes)) break;
                        bytes += rowBytes;
                        r++;
                        total++;
                    }
                    if (r > start) pieces.Add((block, start, r - start));
                    if (r < block.Length) break;
                    b++;
                    r = 0;
                    // A block of at least half a row group ends its row group: an appender that sends blocks
                    // of about a row group (the capture ingestor's packets) then has each block stored as is,
                    // without copying it into a new row group; small blocks are still gathered.
                    if (bytes * 2 >= options.RowGroupMaxBytes || total * 2 >= options.RowGroupRows) break;
                }
                AddRowGroup(partition, RowBlock.FromRanges(schema, pieces));
            }
        }

        void SealSorted()
        {
            // Rows out of time order (tables whose rows are emitted when a connection or exchange ends): sort
            // references to them and gather each row group straight from the blocks — one copy, instead of
            // concatenating everything, copying it in sorted order and copying each row group out of that.
            int n = parts.Sum(p => p.Length);
            var keys = new long[n];
            var refs = new long[n];
            int at = 0;
            for (int b = 0; b < parts.Count; b++)
            {
                var time = parts[b].Columns[timeIndex].Longs;
                for (int r = 0; r < parts[b].Length; r++, at++)
                {
                    keys[at] = time[r];
                    refs[at] = ((long)b << 32) | (uint)r;
                }
            }
            Array.Sort(keys, refs); // not stable, like Seal: rows of equal time have no defined order
            for (int k = 0; k < n; k++)
                CollectionsMarshal.GetValueRefOrAddDefault(partitionBytes, PartitionOf(keys[k]), out _) += RowBytes(parts[(int)(refs[k] >> 32)], (int)refs[k]);
            int i = 0;
            while (i < n)
            {
                long partition = PartitionOf(keys[i]);
                int start = i;
                long bytes = 0;
                while (i < n && i - start < options.RowGroupRows && bytes < options.RowGroupMaxBytes && PartitionOf(keys[i]) == partition)
                {
                    long rowBytes = RowBytes(parts[(int)(refs[i] >> 32)], (int)refs[i]);
                    if (CrossesBound(i - start, bytes, rowBytes)) break;
                    bytes += rowBytes;
                    i++;
                }
                AddRowGroup(partition, RowBlock.Gather(schema, parts, refs, start, i - start));
            }
        }

        void AddRowGroup(long partition, RowBlock rows)
        {
            bool sparse = partitionBytes[partition] < options.SparsePartitionBytes;
            // A new partition starts a new segment unless both it and the open segment's partitions are sparse.
            if (writer is not null && writerPartition != partition && !(writerPacks && sparse)) Finish();
            if (writer is null)
            {
                long id = nextSegmentId();
                // A packed segment lives in the folder of its first (oldest) partition.
                path = layout.SegmentFile(table.Name, partition, id);
                writerPacks = sparse;
                writer = new SegmentWriter(path, schema, table.TimeColumn, table.IndexedColumns, id, partition, flushSeq: 0)
                {
                    TableName = table.Name,
                    DeferRename = true,
                    PieceDictionaries = options.PieceDictionaries,
                };
            }
            writerPartition = partition;
            writer.AddRowGroup(rows, partition);
            if (writer.Position >= options.MaxSegmentBytes) Finish();
        }

        void Finish()
        {
            var (footer, fileBytes) = writer!.Finish();
            result.Add((new SegmentHandle(path!, footer, fileBytes), writer.TempPath));
            writer.Dispose();
            writer = null;
        }
    }

    private static bool InTimeOrder(List<RowBlock> parts, int timeIndex)
    {
        long last = long.MinValue;
        foreach (var block in parts)
        {
            var time = block.Columns[timeIndex].Longs;
            for (int i = 0; i < block.Length; i++)
            {
                if (time[i] < last) return false;
                last = time[i];
            }
        }
        return true;
    }

    /// <summary>Consecutive blocks in groups of at most <paramref name="maxBytes"/> raw bytes (a bigger block is a group of its own).</summary>
    internal static IEnumerable<List<RowBlock>> Groups(IReadOnlyList<RowBlock> blocks, long maxBytes)
    {
        var group = new List<RowBlock>();
        long bytes = 0;
        foreach (var block in blocks)
        {
            long size = block.RawBytes;
            if (group.Count > 0 && bytes + size > maxBytes)
            {
                yield return group;
                group = [];
                bytes = 0;
            }
            group.Add(block);
            bytes += size;
        }
        if (group.Count > 0) yield return group;
    }

    private void SealInto(TableDefinition table, IReadOnlyList<RowBlock> blocks, long flushSeq, List<SegmentHandle> result)
    {
        var schema = table.Schema;
        // One block needs no concatenation (Conform shares the column vectors).
        var all = blocks.Count == 1 ? blocks[0].Conform(schema) : RowBlock.Concat(schema, blocks);
        if (all.Length == 0) return;
        var time = all.Columns[schema.IndexOf(table.TimeColumn)];
        var keys = new long[all.Length];
        bool inOrder = true;
        for (int i = 0; i < all.Length; i++)
        {
            keys[i] = time.Longs[i];
            if (i > 0 && keys[i] < keys[i - 1]) inOrder = false;
        }
        // Ingest is nearly always in time order already: then the sort and the full row copy
        // it needs are skipped (the rows are the same; equal times keep their arrival order).
        var sorted = all;
        if (!inOrder)
        {
            var order = new int[all.Length];
            for (int i = 0; i < order.Length; i++) order[i] = i;
            Array.Sort(keys, order);
            sorted = all.Select(order, order.Length);
        }

        var slices = new List<(long Partition, RowBlock Rows)>();
        int start = 0;
        while (start < sorted.Length)
        {
            long partition = PartitionOf(keys[start]);
            int end = start;
            while (end < sorted.Length && PartitionOf(keys[end]) == partition) end++;
            slices.Add((partition, sorted.Slice(start, end - start)));
            start = end;
        }
        // A flush writes one or more segments per partition.
        foreach (var slice in slices) WriteSegments(table, [slice], flushSeq, result);
    }

    /// <summary>Writes <paramref name="slices"/> (rows of one partition each, ascending) into segments; a new one starts at <see cref="StoreOptions.MaxSegmentBytes"/>.</summary>
    private void WriteSegments(TableDefinition table, IReadOnlyList<(long Partition, RowBlock Rows)> slices, long flushSeq, List<SegmentHandle> result)
    {
        SegmentWriter? writer = null;
        string? path = null;
        try
        {
            for (int s = 0; s < slices.Count; s++)
            {
                var (partition, rows) = slices[s];
                int start = 0;
                while (start < rows.Length)
                {
                    int count = RowGroupLength(rows, start);
                    if (writer is null)
                    {
                        long id = nextSegmentId();
                        path = layout.SegmentFile(table.Name, partition, id);
                        writer = new SegmentWriter(path, rows.Schema, table.TimeColumn, table.IndexedColumns, id, partition, flushSeq)
                        {
                            TableName = table.Name,
                            PieceDictionaries = options.PieceDictionaries,
                            SyncDirectory = false, // Seal fsyncs each directory once
                        };
                    }
                    writer.AddRowGroup(rows.Slice(start, count), partition);
                    start += count;
                    bool last = start == rows.Length && s == slices.Count - 1;
                    if (writer.Position >= options.MaxSegmentBytes || last)
                    {
                        var (footer, bytes) = writer.Finish();
                        writer.Dispose();
                        writer = null;
                        result.Add(new SegmentHandle(path!, footer, bytes));
                    }
                }
            }
        }
        finally
        {
            writer?.Dispose();
        }
    }

    private int RowGroupLength(RowBlock rows, int start)
    {
        int max = Math.Min(options.RowGroupRows, rows.Length - start);
        long fixedPerRow = rows.Columns.Where(c => !ColumnTypes.IsBytes(c.Type)).Sum(c => c.Type == ColumnType.Bool ? 1 : 8);
        var byteColumns = rows.Columns.Where(c => ColumnTypes.IsBytes(c.Type)).ToArray();
        long bytes = 0;
        for (int i = 0; i < max; i++)
        {
            long rowBytes = fixedPerRow;
            foreach (var c in byteColumns) rowBytes += c.Offsets[start + i + 1] - c.Offsets[start + i];
            if (CrossesBound(i, bytes, rowBytes)) return i;
            bytes += rowBytes;
            if (bytes >= options.RowGroupMaxBytes) return i + 1;
        }
        return max;
    }

    /// <summary>
    /// A row group ends before the row that would take it over <see cref="StoreOptions.RowGroupMaxBytes"/>; a row larger
    /// than the bound gets a row group of its own. (Ending with the row that crosses the bound made payloads row groups,
    /// whose bodies are heavy-tailed, average ~7.5 MB under a 1 MiB bound, and a query reads whole row-group chunks.)
    /// </summary>
    private bool CrossesBound(int rowsInGroup, long groupBytes, long rowBytes) =>
        rowsInGroup > 0 && groupBytes + rowBytes > options.RowGroupMaxBytes;
}
