using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Retention;

/// <summary>
/// Applies a <see cref="RetentionPolicy"/>. Global limits delete by partition piece (<see cref="PartitionPiece"/>: the
/// rows of one partition in one segment), oldest first by the piece's newest row: a segment whose pieces are all due is
/// deleted; a packed segment with only some due is rewritten without them. Per-namespace limits rewrite segments
/// without that namespace's old rows. Every rewrite is one new segment naming the one it replaces, durable before the
/// old one is deleted, so a crash between the two is undone on open. Order: global age, namespace age, namespace
/// bytes, global bytes.
/// </summary>
internal sealed class RetentionEnforcer(TrafficStoreEngine engine, SegmentSealer sealer)
{
    private readonly List<RetentionAction> _actions = [];

    public RetentionReport Apply(RetentionPolicy policy, DateTimeOffset now, CancellationToken ct)
    {
        _actions.Clear();
        long nowNs = Query.QuerySpec.ToNs(now);

        if (policy.Global.MaxAge is TimeSpan maxAge)
        {
            long cutoff = nowNs - maxAge.Ticks * 100;
            // A piece is due when its newest row is older than the cutoff (a piece straddling the cutoff stays whole).
            var due = AllSegments().Where(x => x.Segment.Footer.MinTime < cutoff)
                .SelectMany(x => PartitionPiece.Of(x.Table, x.Segment)).Where(p => p.MaxTime < cutoff).ToList();
            DropPieces(due, $"global max age {maxAge}: newest row older than cutoff", ct);
        }

        foreach (var (ns, limits) in policy.Namespaces.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (limits.MaxAge is TimeSpan nsAge)
            {
                long cutoff = nowNs - nsAge.Ticks * 100;
                foreach (var (table, h) in AllSegments().Where(x => x.Table.Definition.NamespaceColumn is not null && x.Segment.Footer.MinTime < cutoff).ToList())
                {
                    ct.ThrowIfCancellationRequested();
                    if (NamespaceRows(table, h, ns) == 0) continue;
                    RemoveRows(table, h, ns, cutoff, $"namespace '{ns}' max age {nsAge}");
                }
            }
            if (limits.MaxBytes is long nsBytes)
            {
                var holding = AllSegments().Where(x => x.Table.Definition.NamespaceColumn is not null && NamespaceRows(x.Table, x.Segment, ns) > 0)
                    .OrderBy(x => x.Segment.Footer.MaxTime).ThenBy(x => x.Segment.Id).ToList();
                double attributed = holding.Sum(x => Share(x.Table, x.Segment, ns));
                foreach (var (table, h) in holding)
                {
                    if (attributed <= nsBytes) break;
                    ct.ThrowIfCancellationRequested();
                    attributed -= Share(table, h, ns);
                    RemoveRows(table, h, ns, long.MaxValue, $"namespace '{ns}' max bytes {nsBytes}");
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

    /// <summary>
    /// Deletes <paramref name="due"/>, segment by segment in the order of each segment's oldest due piece: a segment
    /// all of whose pieces are due is deleted, any other is rewritten without the due pieces' row groups.
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
            var partitions = dropped.Order().ToList();
            string which = partitions.Count == 1
                ? $"partition {StoreLayout.PartitionName(partitions[0])}"
                : $"{partitions.Count} partitions {StoreLayout.PartitionName(partitions[0])}..{StoreLayout.PartitionName(partitions[^1])}";
            try
            {
                Rewrite(table, h, g => !dropped.Contains(h.Footer.RowGroups[g].Partition), dropRow: null, ns: null,
                    actionPartition: partitions[0], $"{reason} ({which} of a packed segment)");
            }
            catch (SegmentCorruptException e)
            {
                engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
            }
        }
    }

    private IEnumerable<(TableState Table, SegmentHandle Segment)> AllSegments() =>
        engine.AllTableStates().SelectMany(t => t.Snapshot.Segments.Values.Select(h => (t, h)));

    private double Share(TableState table, SegmentHandle h, string ns) =>
        h.Footer.RowCount == 0 ? 0 : (double)h.FileBytes * NamespaceRows(table, h, ns) / h.Footer.RowCount;

    private long NamespaceRows(TableState table, SegmentHandle h, string ns)
    {
        try
        {
            return CountNamespaceRows(table, h, ns);
        }
        catch (SegmentCorruptException e)
        {
            // Not served any more, so it holds nothing to retain or delete.
            engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
            return 0;
        }
    }

    private long CountNamespaceRows(TableState table, SegmentHandle h, string ns)
    {
        if (h.NamespaceCounts is null)
        {
            var counts = new Dictionary<string, long>(StringComparer.Ordinal);
            int c = h.Footer.ColumnIndex(table.Definition.NamespaceColumn!);
            if (c >= 0)
            {
                using var reader = SegmentReader.Open(h.Path);
                for (int g = 0; g < h.Footer.RowGroups.Length; g++)
                {
                    var v = reader.ReadChunk(c, g);
                    for (int i = 0; i < v.Length; i++)
                    {
                        if (v.IsNull(i)) continue;
                        var key = System.Text.Encoding.UTF8.GetString(v.GetBytes(i));
                        counts[key] = counts.GetValueOrDefault(key) + 1;
                    }
                }
            }
            h.NamespaceCounts = counts;
        }
        return h.NamespaceCounts.GetValueOrDefault(ns);
    }

    /// <summary>Removes rows of namespace <paramref name="ns"/> with time &lt; <paramref name="before"/> from a segment: deletes it if nothing remains, else rewrites it.</summary>
    private void RemoveRows(TableState table, SegmentHandle h, string ns, long before, string reason)
    {
        try
        {
            RewriteWithout(table, h, ns, before, reason);
        }
        catch (SegmentCorruptException e)
        {
            engine.Quarantine(table.Name, h.Path, e.Reason, h.Footer);
        }
    }

    private void RewriteWithout(TableState table, SegmentHandle h, string ns, long before, string reason)
    {
        var footer = h.Footer;
        int nsColumn = footer.ColumnIndex(table.Definition.NamespaceColumn!);
        int timeColumn = footer.ColumnIndex(table.Definition.TimeColumn);
        var nsBytes = System.Text.Encoding.UTF8.GetBytes(ns);
        Rewrite(table, h, _ => true,
            (columns, i) => !columns[nsColumn].IsNull(i) && columns[nsColumn].GetBytes(i).SequenceEqual(nsBytes) && columns[timeColumn].Longs[i] < before,
            ns, footer.PartitionStart, reason);
    }

    /// <summary>
    /// Rewrites a segment keeping the row groups <paramref name="keepRowGroup"/> accepts (the others are not read) less the
    /// rows <paramref name="dropRow"/> (if any) picks; deletes the segment if nothing remains. The new segment names the
    /// one it replaces and is durable (fsync'd, renamed, directory fsync'd) before the old file is deleted.
    /// </summary>
    private void Rewrite(TableState table, SegmentHandle h, Func<int, bool> keepRowGroup, Func<ColumnVector[], int, bool>? dropRow,
        string? ns, long actionPartition, string reason)
    {
        var footer = h.Footer;
        var schema = new TableSchema(footer.SchemaVersion, footer.Columns);
        var kept = new List<RowBlock>();
        long removed = 0;
        using (var reader = SegmentReader.Open(h.Path))
        {
            for (int g = 0; g < footer.RowGroups.Length; g++)
            {
                if (!keepRowGroup(g))
                {
                    removed += footer.RowGroups[g].RowCount;
                    continue;
                }
                var columns = Enumerable.Range(0, schema.Count).Select(c => reader.ReadChunk(c, g)).ToArray();
                var block = new RowBlock(schema, columns, footer.RowGroups[g].RowCount);
                if (dropRow is null)
                {
                    kept.Add(block);
                    continue;
                }
                var keep = new List<int>(block.Length);
                for (int i = 0; i < block.Length; i++)
                {
                    if (dropRow(columns, i)) removed++;
                    else keep.Add(i);
                }
                if (keep.Count > 0) kept.Add(block.Select(keep.ToArray(), keep.Count));
            }
        }
        if (removed == 0) return;
        if (kept.Count == 0)
        {
            Delete(table, h, ns, reason);
            return;
        }
        var replacements = sealer.Seal(table.Definition, kept, footer.FlushSeq, replaces: footer.SegmentId);
        engine.ReplaceSegment(table, h, replacements);
        long newBytes = replacements.Sum(r => r.FileBytes);
        Record(new RetentionAction(RetentionActionKind.RewroteSegment, table.Name, h.Id, actionPartition, ns, removed, Math.Max(0, h.FileBytes - newBytes), reason));
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
