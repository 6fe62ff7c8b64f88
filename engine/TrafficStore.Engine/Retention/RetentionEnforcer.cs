using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Retention;

/// <summary>
/// Applies a <see cref="RetentionPolicy"/>, oldest first by <see cref="PartitionPiece"/> (the rows of one partition in one
/// segment), ordered by the piece's newest row. Global limits delete pieces: a segment whose pieces are all due is
/// deleted, a packed segment with only some due is rewritten without them. Per-namespace limits rewrite segments
/// without that namespace's old rows (max age: rows older than the cutoff; max bytes: the namespace's rows of its oldest
/// pieces). Every rewrite is one new segment naming the one it replaces (<see cref="SegmentSealer.Rewrite"/>), durable
/// before the old one is deleted, so a crash between the two is undone on open.
/// Order: global age, namespace age, namespace bytes, global bytes.
/// </summary>
internal sealed class RetentionEnforcer(TrafficStoreEngine engine, SegmentSealer sealer)
{
    private readonly List<RetentionAction> _actions = [];

    /// <summary>
    /// Rows older than this are past <paramref name="maxAge"/>. An age beyond ~292 years has more nanoseconds than 64
    /// bits hold: unchecked, the product wrapped and the cutoff could land centuries ahead (every row due).
    /// </summary>
    internal static long Cutoff(long nowNs, TimeSpan maxAge)
    {
        try { return checked(nowNs - maxAge.Ticks * 100); }
        catch (OverflowException) { return maxAge > TimeSpan.Zero ? long.MinValue : long.MaxValue; }
    }

    public RetentionReport Apply(RetentionPolicy policy, DateTimeOffset now, CancellationToken ct)
    {
        _actions.Clear();
        long nowNs = Query.QuerySpec.ToNs(now);

        if (policy.Global.MaxAge is TimeSpan maxAge)
        {
            long cutoff = Cutoff(nowNs, maxAge);
            // A piece is due when its newest row is older than the cutoff (a piece straddling the cutoff stays whole).
            var due = AllSegments().Where(x => x.Segment.Footer.MinTime < cutoff)
                .SelectMany(x => PartitionPiece.Of(x.Table, x.Segment)).Where(p => p.MaxTime < cutoff).ToList();
            DropPieces(due, $"global max age {maxAge}: newest row older than cutoff", ct);
        }

        foreach (var (ns, limits) in policy.Namespaces.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (limits.MaxAge is TimeSpan nsAge)
            {
                long cutoff = Cutoff(nowNs, nsAge);
                foreach (var (table, h) in AllSegments().Where(x => x.Table.Definition.NamespaceColumn is not null && x.Segment.Footer.MinTime < cutoff).ToList())
                {
                    ct.ThrowIfCancellationRequested();
                    if (NamespaceRows(table, h, ns, partition: null) == 0) continue;
                    RemoveNamespaceRows(table, h, ns, cutoff, partitions: null, $"namespace '{ns}' max age {nsAge}");
                }
            }
            if (limits.MaxBytes is long nsBytes)
            {
                var holding = AllSegments().Where(x => x.Table.Definition.NamespaceColumn is not null)
                    .SelectMany(x => PartitionPiece.Of(x.Table, x.Segment))
                    .Where(p => NamespaceRows(p.Table, p.Segment, ns, p.Partition) > 0)
                    .OrderBy(p => p.MaxTime).ThenBy(p => p.Segment.Id).ThenBy(p => p.Partition).ToList();
                double attributed = holding.Sum(p => Share(p, ns));
                var due = new List<PartitionPiece>();
                foreach (var piece in holding)
                {
                    if (attributed <= nsBytes) break;
                    attributed -= Share(piece, ns);
                    due.Add(piece);
                }
                foreach (var group in due.GroupBy(p => p.Segment)) // segments in the order of their oldest due piece
                {
                    ct.ThrowIfCancellationRequested();
                    var partitions = group.Select(p => p.Partition).ToHashSet();
                    RemoveNamespaceRows(group.First().Table, group.Key, ns, long.MaxValue,
                        partitions.Count == group.Key.Footer.Partitions.Count ? null : partitions, $"namespace '{ns}' max bytes {nsBytes}");
                }
            }
        }

        if (policy.Global.MaxBytes is long maxBytes)
        {
            // Pieces' bytes are shares of their file; a rewrite's new file can differ a little from the file less the
            // dropped shares (its footer), so plan again until the store fits. Each round drops at least one piece.
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var all = AllSegments().ToList();
                long total = all.Sum(x => x.Segment.FileBytes);
                if (total <= maxBytes) break;
                var due = new List<PartitionPiece>();
                foreach (var piece in all.SelectMany(x => PartitionPiece.Of(x.Table, x.Segment)).OrderBy(p => p.MaxTime).ThenBy(p => p.Segment.Id).ThenBy(p => p.Partition))
                {
                    if (total <= maxBytes) break;
                    total -= piece.Bytes;
                    due.Add(piece);
                }
                if (due.Count == 0) break;
                DropPieces(due, $"global max bytes {maxBytes}: oldest partitions", ct);
            }
        }
        return new RetentionReport(_actions.ToList());
    }

    private IEnumerable<(TableState Table, SegmentHandle Segment)> AllSegments() =>
        engine.AllTableStates().SelectMany(t => t.Snapshot.Segments.Values.Select(h => (t, h)));

    /// <summary>
    /// Deletes <paramref name="due"/>, segment by segment in the order of each segment's oldest due piece: a segment
    /// all of whose pieces are due is deleted, any other is rewritten without the due pieces' row groups (not even read).
    /// </summary>
    private void DropPieces(List<PartitionPiece> due, string reason, CancellationToken ct)
    {
        foreach (var group in due.OrderBy(p => p.MaxTime).ThenBy(p => p.Segment.Id).ThenBy(p => p.Partition).GroupBy(p => p.Segment))
        {
            ct.ThrowIfCancellationRequested();
            var (table, h) = (group.First().Table, group.Key);
            var dropped = group.Select(p => p.Partition).ToHashSet();
            if (h.Footer.Partitions.All(dropped.Contains))
            {
                Delete(table, h, null, reason);
                continue;
            }
            var footer = h.Footer;
            var partitions = dropped.Order().ToList();
            string which = partitions.Count == 1
                ? $"partition {StoreLayout.PartitionName(partitions[0])}"
                : $"{partitions.Count} partitions {StoreLayout.PartitionName(partitions[0])}..{StoreLayout.PartitionName(partitions[^1])}";
            long removed = footer.RowGroups.Where(g => dropped.Contains(g.Partition)).Sum(g => (long)g.RowCount);
            Replace(table, h, null, removed, partitions[0], $"{reason} ({which} of a packed segment)", reader =>
                sealer.Rewrite(table.Definition, footer, KeptRowGroups(footer, reader, g => !dropped.Contains(footer.RowGroups[g].Partition), (_, rows) => rows)));
        }
    }

    /// <summary>
    /// Removes the rows of namespace <paramref name="ns"/> with time &lt; <paramref name="before"/> (in <paramref name="partitions"/>,
    /// or all) from a segment: nothing if there are none, deletes the segment if nothing else remains, else rewrites it.
    /// A first pass reads only the namespace and time columns, so a segment with nothing to remove is not rewritten.
    /// </summary>
    private void RemoveNamespaceRows(TableState table, SegmentHandle h, string ns, long before, HashSet<long>? partitions, string reason)
    {
        var footer = h.Footer;
        int nsColumn = footer.ColumnIndex(table.Definition.NamespaceColumn!);
        int timeColumn = footer.ColumnIndex(table.Definition.TimeColumn);
        if (nsColumn < 0) return; // written before the table had the column: no row has a namespace
        var nsBytes = System.Text.Encoding.UTF8.GetBytes(ns);
        bool Goes(ColumnVector nsValues, ColumnVector times, int i) =>
            !nsValues.IsNull(i) && nsValues.GetBytes(i).SequenceEqual(nsBytes) && times.Longs[i] < before;
        try
        {
            var drops = new int[footer.RowGroups.Length];
            using (var reader = SegmentReader.Open(h.Path, h.Footer, cacheDictionary: false))
            {
                for (int g = 0; g < drops.Length; g++)
                {
                    if (partitions is not null && !partitions.Contains(footer.RowGroups[g].Partition)) continue;
                    var nsValues = reader.ReadChunk(nsColumn, g);
                    var times = reader.ReadChunk(timeColumn, g);
                    for (int i = 0; i < nsValues.Length; i++) if (Goes(nsValues, times, i)) drops[g]++;
                }
            }
            long removed = drops.Sum(d => (long)d);
            if (removed == 0) return;
            if (removed == footer.RowCount)
            {
                Delete(table, h, ns, reason);
                return;
            }
            RowBlock Filter(int g, RowBlock rows)
            {
                if (drops[g] == 0) return rows;
                var keep = new int[rows.Length - drops[g]];
                int n = 0;
                for (int i = 0; i < rows.Length; i++) if (!Goes(rows.Columns[nsColumn], rows.Columns[timeColumn], i)) keep[n++] = i;
                return rows.Select(keep, n);
            }
            Replace(table, h, ns, removed, footer.PartitionStart, reason, reader =>
                sealer.Rewrite(table.Definition, footer, KeptRowGroups(footer, reader, g => drops[g] < footer.RowGroups[g].RowCount, Filter)));
        }
        catch (SegmentCorruptException e)
        {
            engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
        }
        catch (IOException) when (Gone(table, h))
        {
            // Quarantined by a query since this pass listed it: nothing of it to retain or delete.
        }
    }

    /// <summary>
    /// Whether a segment this pass listed has left the table since (a query quarantined it) and its file is gone: the
    /// pass works from lists it made first, so it may still meet such a segment.
    /// </summary>
    private static bool Gone(TableState table, SegmentHandle h) => !table.Snapshot.Segments.ContainsKey(h.Id) && !File.Exists(h.Path);

    /// <summary>The row groups <paramref name="keeps"/> accepts, read one at a time, each through <paramref name="filter"/>.</summary>
    private static IEnumerable<(long Partition, RowBlock Rows)> KeptRowGroups(SegmentFooter footer, SegmentReader reader, Func<int, bool> keeps, Func<int, RowBlock, RowBlock> filter)
    {
        var schema = new TableSchema(footer.SchemaVersion, footer.Columns);
        for (int g = 0; g < footer.RowGroups.Length; g++)
        {
            if (!keeps(g)) continue;
            var columns = new ColumnVector[schema.Count];
            for (int c = 0; c < columns.Length; c++) columns[c] = reader.ReadChunk(c, g);
            yield return (footer.RowGroups[g].Partition, filter(g, new RowBlock(schema, columns, footer.RowGroups[g].RowCount)));
        }
    }

    /// <summary>
    /// Writes a segment's replacement (<paramref name="write"/>, given a reader of the segment), swaps it in and deletes the old
    /// file, and records the rewrite. <paramref name="removed"/> rows go and at least one stays, so there is a replacement.
    /// A corrupt chunk on the way quarantines the segment (the temp file is deleted; nothing changed).
    /// </summary>
    private void Replace(TableState table, SegmentHandle h, string? ns, long removed, long actionPartition, string reason, Func<SegmentReader, SegmentHandle?> write)
    {
        SegmentHandle replacement;
        try
        {
            using var reader = SegmentReader.Open(h.Path, h.Footer, cacheDictionary: false);
            replacement = write(reader) ?? throw new InvalidOperationException($"The rewrite of segment {h.Id} of '{table.Name}' kept no row although {h.Footer.RowCount - removed} should stay.");
        }
        catch (SegmentCorruptException e)
        {
            engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
            return;
        }
        catch (IOException) when (Gone(table, h))
        {
            return; // quarantined by a query since this pass listed it: not served, nothing to retain or delete
        }
        engine.ReplaceSegment(table, h, [replacement]);
        Record(new RetentionAction(RetentionActionKind.RewroteSegment, table.Name, h.Id, actionPartition, ns, removed, Math.Max(0, h.FileBytes - replacement.FileBytes), reason));
    }

    private double Share(PartitionPiece piece, string ns) =>
        piece.Rows == 0 ? 0 : (double)piece.Bytes * NamespaceRows(piece.Table, piece.Segment, ns, piece.Partition) / piece.Rows;

    /// <summary>Rows of namespace <paramref name="ns"/> in a segment, in one of its partitions or (null) in all.</summary>
    private long NamespaceRows(TableState table, SegmentHandle h, string ns, long? partition)
    {
        try
        {
            var counts = NamespaceCounts(table, h);
            if (partition is long p) return counts.TryGetValue(p, out var inPartition) ? inPartition.GetValueOrDefault(ns) : 0;
            return counts.Values.Sum(c => c.GetValueOrDefault(ns));
        }
        catch (SegmentCorruptException e)
        {
            // Not served any more, so it holds nothing to retain or delete.
            engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
            return 0;
        }
        catch (IOException) when (Gone(table, h))
        {
            return 0; // quarantined by a query since this pass listed it
        }
    }

    private static Dictionary<long, Dictionary<string, long>> NamespaceCounts(TableState table, SegmentHandle h)
    {
        if (h.NamespaceCounts is { } cached) return cached;
        var counts = new Dictionary<long, Dictionary<string, long>>();
        int c = h.Footer.ColumnIndex(table.Definition.NamespaceColumn!);
        if (c >= 0)
        {
            using var reader = SegmentReader.Open(h.Path, h.Footer, cacheDictionary: false);
            for (int g = 0; g < h.Footer.RowGroups.Length; g++)
            {
                long partition = h.Footer.RowGroups[g].Partition;
                if (!counts.TryGetValue(partition, out var inPartition)) counts[partition] = inPartition = new(StringComparer.Ordinal);
                var v = reader.ReadChunk(c, g);
                for (int i = 0; i < v.Length; i++)
                {
                    if (v.IsNull(i)) continue;
                    var key = System.Text.Encoding.UTF8.GetString(v.GetBytes(i));
                    inPartition[key] = inPartition.GetValueOrDefault(key) + 1;
                }
            }
        }
        return h.NamespaceCounts = counts;
    }

    private void Delete(TableState table, SegmentHandle h, string? ns, string reason)
    {
        if (!engine.RemoveSegment(table, h)) return;
        Record(new RetentionAction(RetentionActionKind.DeletedSegment, table.Name, h.Id, h.Footer.PartitionStart, ns, h.Footer.RowCount, h.FileBytes, reason));
    }

    private void Record(RetentionAction action)
    {
        _actions.Add(action);
        engine.OnRetention(action);
    }
}
