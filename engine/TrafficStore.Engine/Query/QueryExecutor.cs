using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Index;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Query;

/// <summary>
/// Runs queries: plans against a table snapshot (segment zone maps, then the index), then streams
/// one batch per matching row group, reading only the columns it needs, then unsealed rows.
/// With ordering it works partition by partition (partitions never overlap in time; a packed segment's row groups
/// are taken in the partition they belong to) and merges within a partition (QueryExecutor.Ordered.cs).
/// </summary>
internal sealed partial class QueryExecutor(TrafficStoreEngine engine, SegmentIndex index, SegmentSealer sealer)
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueryPlan Plan(QuerySpec q, QueryDiagnostics diag)
    {
        ArgumentNullException.ThrowIfNull(q);
        var table = engine.TableState(q.Table);
        var schema = table.Schema;
        var def = table.Definition;
        var filters = q.Filters.Select(f => new CompiledFilter(schema, f)).ToArray();
        var projection = (q.Columns ?? schema.Columns.Select(c => c.Name).ToList())
            .Select(c => schema.IndexOf(c) is int i and >= 0 ? i : throw new ArgumentException($"Unknown column '{c}' in projection.")).ToArray();
        long from = q.From ?? long.MinValue;
        long to = q.To ?? long.MaxValue;
        if (q.AsOf is long asOf) to = Math.Min(to, asOf == long.MaxValue ? asOf : asOf + 1);
        int endColumn = def.EndTimeColumn is null ? -1 : schema.IndexOf(def.EndTimeColumn);
        var snapshot = table.Snapshot;

        var plan = new QueryPlan
        {
            Spec = q, Table = table, Schema = schema, Snapshot = snapshot, Filters = filters, Projection = projection,
            TimeColumn = schema.IndexOf(def.TimeColumn), EndColumn = endColumn, From = from, To = to, Segments = [],
        };

        // Zone maps first (in memory: the footers are held by the snapshot), so that the index is
        // looked up only in the partitions whose segments may still match. An unbounded
        // `connection=X` would otherwise probe every partition's posting (one FASTER read each,
        // ~300 for payloads at 10 GB) although the connection_id zone maps leave one or two.
        // From the snapshot's flat arrays (SegmentZones): the footers are touched only for segments still in play.
        var survivors = new List<SegmentHandle>();
        var zones = SegmentZones.For(snapshot, schema);
        for (int s = 0; s < zones.Handles.Length; s++)
        {
            diag.SegmentsConsidered++;
            bool inRange = zones.RowCount[s] > 0 && zones.MaxTime[s] >= from && zones.MinTime[s] < to;
            bool whole = inRange && !plan.SegmentMayMatch(zones, s);
            if (whole) diag.SegmentsSkippedWhole++;
            if (!inRange || whole || !AnyRowGroupMayMatch(plan, zones.Handles[s].Footer, null))
            {
                diag.SegmentsSkippedByZoneMap++;
                continue;
            }
            survivors.Add(zones.Handles[s]);
        }

        // Index: every equality / in-list filter on an indexed column narrows segments and row groups. Looked up in
        // the survivors' footers (FooterPostings: in memory, cost per survivor); the posting store only where a footer's
        // summary cannot be searched.
        var indexHits = new List<(Dictionary<long, HashSet<int>> Matches, HashSet<long> Covered)>();
        HashSet<long>? partitions = null;
        (Dictionary<long, HashSet<int>> Matches, HashSet<long> Covered) Lookup(CompiledFilter f, IReadOnlyList<string> keys)
        {
            if (FromFooters(survivors, f, keys) is { } found) return found;
            if (partitions is null)
            {
                // The partitions to look values up in: a packed segment's (format 3) only where a row group may match.
                partitions = [];
                foreach (var handle in survivors)
                {
                    var footer = handle.Footer;
                    if (!footer.IsPacked) { partitions.Add(footer.PartitionStart); continue; }
                    for (int g = 0; g < footer.RowGroups.Length; g++)
                        if (!partitions.Contains(footer.RowGroups[g].Partition) && plan.RowGroupMayMatch(footer, g)) partitions.Add(footer.RowGroups[g].Partition);
                }
            }
            return index.Lookup(q.Table, f.Name, keys, partitions, from, to);
        }
        if (survivors.Count > 0)
        {
            foreach (var f in filters)
            {
                if (f.IndexKeys is { } keys && def.IndexedColumns.Contains(f.Name))
                {
                    indexHits.Add(Lookup(f, keys));
                    diag.UsedIndex = true;
                }
                else if (f.AnyOf is { } alternatives && alternatives.All(a => a.IndexKeys is not null && def.IndexedColumns.Contains(a.Name)))
                {
                    // Either end (client_pod = X or server_pod = X): the union of the alternatives' postings,
                    // trusted only for segments every alternative's index covers.
                    var lookups = alternatives.Select(a => Lookup(a, a.IndexKeys!)).ToList();
                    var covered = new HashSet<long>(lookups[0].Covered);
                    foreach (var l in lookups.Skip(1)) covered.IntersectWith(l.Covered);
                    var matches = new Dictionary<long, HashSet<int>>();
                    foreach (var (m, _) in lookups)
                        foreach (var (segment, groups) in m)
                            if (covered.Contains(segment))
                            {
                                if (!matches.TryGetValue(segment, out var all)) matches[segment] = all = [];
                                all.UnionWith(groups);
                            }
                    indexHits.Add((matches, covered));
                    diag.UsedIndex = true;
                }
            }
        }

        foreach (var handle in survivors)
        {
            var footer = handle.Footer;
            HashSet<int>? groups = null;
            bool excluded = false;
            foreach (var (matches, covered) in indexHits)
            {
                if (!covered.Contains(handle.Id)) continue;
                if (!matches.TryGetValue(handle.Id, out var g)) { excluded = true; break; }
                if (groups is null) groups = [.. g];
                else groups.IntersectWith(g);
            }
            if (excluded || groups is { Count: 0 }) { diag.SegmentsSkippedByIndex++; continue; }
            if (groups is not null && !AnyRowGroupMayMatch(plan, footer, groups))
            {
                diag.SegmentsSkippedByZoneMap++;
                continue;
            }
            plan.Segments.Add(new SegmentCandidate(handle, groups));
        }
        plan.Segments.Sort((a, b) => a.Segment.Footer.MinTime != b.Segment.Footer.MinTime
            ? a.Segment.Footer.MinTime.CompareTo(b.Segment.Footer.MinTime)
            : a.Segment.Id.CompareTo(b.Segment.Id));

        foreach (var quarantined in engine.QuarantinedFor(q.Table))
        {
            bool overlaps = quarantined.MinTime is not long min || quarantined.MaxTime is not long max || (max >= from && min < to);
            if (overlaps)
                diag.Warn(new QueryWarning(QueryWarning.QuarantinedSegmentInRange,
                    $"Segment {quarantined.SegmentId} of '{q.Table}' is quarantined ({quarantined.Reason}); its rows are not served.", quarantined.QuarantinePath));
        }
        return plan;
    }

    /// <summary>
    /// The survivors holding any of <paramref name="keys"/> in <paramref name="f"/>'s column, with their row groups, and the
    /// survivors whose footers index the column; null when some footer's summary cannot be searched (then the posting store answers).
    /// Row groups outside the query's window are left to the zone maps checked after (as for a posting store answer).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (Dictionary<long, HashSet<int>> Matches, HashSet<long> Covered)? FromFooters(List<SegmentHandle> survivors, CompiledFilter f, IReadOnlyList<string> keys)
    {
        var matches = new Dictionary<long, HashSet<int>>();
        var covered = new HashSet<long>();
        HashSet<int>? groups = null;
        foreach (var handle in survivors)
        {
            groups ??= [];
            switch (FooterPostings.Lookup(handle.Footer, f.Name, f.Type, keys, groups))
            {
                case FooterPostings.Answer.NotCovered: continue;
                case FooterPostings.Answer.Unsearchable: return null;
            }
            covered.Add(handle.Id);
            if (groups.Count == 0) continue;
            matches[handle.Id] = groups;
            groups = null;
        }
        return (matches, covered);
    }

    private static bool AnyRowGroupMayMatch(QueryPlan plan, SegmentFooter footer, HashSet<int>? groups)
    {
        for (int g = 0; g < footer.RowGroups.Length; g++)
            if ((groups is null || groups.Contains(g)) && plan.RowGroupMayMatch(footer, g)) return true;
        return false;
    }

    public async IAsyncEnumerable<RecordBatch> RunAsync(QuerySpec q, QueryDiagnostics diag, [EnumeratorCancellation] CancellationToken ct)
    {
        // Before the snapshot is taken: a segment a retention rewrite replaces meanwhile keeps its file until this query ends.
        using var lease = engine.ReplacedFiles.BeginRead();
        var plan = Plan(q, diag);
        long remaining = q.Limit ?? long.MaxValue;
        if (remaining <= 0) yield break;

        if (q.OrderByTime)
        {
            await foreach (var batch in RunOrderedAsync(plan, diag, ct).ConfigureAwait(false))
            {
                var b = batch;
                if (b.Length > remaining) b = b.Slice(0, (int)remaining);
                remaining -= b.Length;
                diag.RowsReturned += b.Length;
                yield return b;
                if (remaining == 0) yield break;
            }
            yield break;
        }

        foreach (var candidate in plan.Segments)
        {
            ct.ThrowIfCancellationRequested();
            using var reader = OpenSegment(plan, candidate.Segment, diag);
            if (reader is null) continue;
            var footer = candidate.Segment.Footer;
            for (int g = 0; g < footer.RowGroups.Length; g++)
            {
                ct.ThrowIfCancellationRequested();
                if ((candidate.RowGroups is not null && !candidate.RowGroups.Contains(g)) || !plan.RowGroupMayMatch(footer, g))
                {
                    diag.RowGroupsSkipped++;
                    continue;
                }
                var rows = ReadRowGroup(plan, reader, g, diag, plan.From, plan.To);
                if (rows is null) break; // corrupt: quarantined, warning recorded
                diag.MaxRowGroupsHeld = Math.Max(diag.MaxRowGroupsHeld, 1);
                foreach (var batch in Emit(rows.Value.Block, plan.Projection, rows.Value.Rows, q))
                {
                    var b = batch.Length > remaining ? batch.Slice(0, (int)remaining) : batch;
                    remaining -= b.Length;
                    diag.RowsReturned += b.Length;
                    yield return b;
                    if (remaining == 0) yield break;
                }
            }
            await Task.Yield();
        }

        if (!q.IncludeUnsealed) yield break;
        foreach (var unsealed in plan.Snapshot.Unsealed)
        {
            if (unsealed.MaxTime < plan.From || unsealed.MinTime >= plan.To) continue;
            var block = unsealed.Rows.Conform(plan.Schema);
            diag.UnsealedRowsScanned += block.Length;
            var rows = plan.Select(c => block.Columns[c], block.Length, plan.From, plan.To);
            foreach (var batch in Emit(block, plan.Projection, rows, q))
            {
                var b = batch.Length > remaining ? batch.Slice(0, (int)remaining) : batch;
                remaining -= b.Length;
                diag.RowsReturned += b.Length;
                yield return b;
                if (remaining == 0) yield break;
            }
        }
    }

    /// <summary>Cuts the selected rows into batches bounded by <see cref="QuerySpec.MaxBatchRows"/> and <see cref="QuerySpec.MaxBatchBytes"/>.</summary>
    private static IEnumerable<RecordBatch> Emit(RowBlock block, int[] projection, int[] rows, QuerySpec spec)
    {
        var byteColumns = projection.Select(p => block.Columns[p]).Where(c => ColumnTypes.IsBytes(c.Type)).ToArray();
        long fixedPerRow = 8L * (projection.Length - byteColumns.Length);
        int start = 0;
        while (start < rows.Length)
        {
            int count = 0;
            long bytes = 0;
            while (start + count < rows.Length && count < spec.MaxBatchRows)
            {
                int r = rows[start + count];
                long rowBytes = fixedPerRow;
                foreach (var c in byteColumns) rowBytes += c.Offsets[r + 1] - c.Offsets[r];
                if (count > 0 && bytes + rowBytes > spec.MaxBatchBytes) break;
                bytes += rowBytes;
                count++;
            }
            var slice = start == 0 && count == rows.Length ? rows : rows.AsSpan(start, count).ToArray();
            yield return block.ToRecordBatch(projection, slice, count);
            start += count;
        }
    }

    private SegmentReader? OpenSegment(QueryPlan plan, SegmentHandle segment, QueryDiagnostics diag)
    {
        try
        {
            var reader = SegmentReader.Open(segment.Path, segment.Footer); // footer validated when sealed or opened
            diag.SegmentsRead++;
            engine.CountRead(1, 0);
            return reader;
        }
        catch (FileNotFoundException) { return null; } // deleted by retention after the snapshot was taken (a replaced segment waits for this query: ReplacedSegmentFiles)
        catch (DirectoryNotFoundException) { return null; }
        catch (SegmentCorruptException e)
        {
            Corrupt(plan, segment, e, diag);
            return null;
        }
    }

    /// <summary>
    /// Reads the columns row group <paramref name="g"/> needs (filter columns first; projection only if rows match) and selects rows.
    /// The block holds every table column (unread ones as placeholders never touched). Null when the segment turned out corrupt.
    /// </summary>
    private (RowBlock Block, int[] Rows)? ReadRowGroup(QueryPlan plan, SegmentReader reader, int g, QueryDiagnostics diag, long from, long to)
    {
        var footer = reader.Footer;
        int n = footer.RowGroups[g].RowCount;
        var cache = new ColumnVector?[plan.Schema.Count];
        ColumnVector Column(int c)
        {
            if (cache[c] is { } v) return v;
            int sc = footer.ColumnIndex(plan.Schema.Columns[c].Name);
            return cache[c] = sc < 0 ? ColumnVector.Nulls(plan.Schema.Columns[c].Type, n) : ReadChunk(reader, sc, g, diag);
        }
        try
        {
            diag.RowGroupsRead++;
            diag.RowsScanned += n;
            engine.CountRead(0, 1);
            var rows = plan.Select(Column, n, from, to);
            var columns = new ColumnVector[plan.Schema.Count];
            var needed = new HashSet<int>(plan.Projection) { plan.TimeColumn };
            for (int c = 0; c < columns.Length; c++)
                columns[c] = rows.Length > 0 && needed.Contains(c) ? Column(c) : cache[c] ?? ColumnVector.Nulls(plan.Schema.Columns[c].Type, n);
            return (new RowBlock(plan.Schema, columns, n), rows);
        }
        catch (SegmentCorruptException e)
        {
            var handle = plan.Snapshot.Segments.TryGetValue(footer.SegmentId, out var h) ? h : new SegmentHandle(reader.Path, footer, 0);
            Corrupt(plan, handle, e, diag);
            return null;
        }
    }

    /// <summary>A chunk from the decoded-chunk cache, else from disk (CRC-checked, then cached).</summary>
    private ColumnVector ReadChunk(SegmentReader reader, int column, int g, QueryDiagnostics diag)
    {
        var cache = engine.ChunkCache;
        if (cache.Enabled && cache.TryGet(reader.Footer.SegmentId, column, g, out var cached))
        {
            diag.ChunksFromCache++;
            return cached;
        }
        var vector = reader.ReadChunk(column, g);
        diag.ChunksFromDisk++;
        var info = reader.Footer.Chunks[column][g];
        diag.ChunkBytesStored += info.StoredLength;
        diag.ChunkBytesRaw += info.RawLength;
        if (cache.Enabled) cache.Add(reader.Footer.SegmentId, column, g, vector);
        return vector;
    }

    private void Corrupt(QueryPlan plan, SegmentHandle segment, SegmentCorruptException e, QueryDiagnostics diag)
    {
        engine.Quarantine(plan.Table.Name, segment.Path, e.Reason, segment.Footer);
        diag.Warn(new QueryWarning(QueryWarning.CorruptSegment,
            $"Segment {segment.Id} of '{plan.Table.Name}' is corrupt ({e.Reason}); quarantined and skipped.", segment.Path));
        if (plan.Spec.FailOnCorruption) throw e;
    }

    public QueryEstimate Estimate(QuerySpec q)
    {
        var diag = new QueryDiagnostics();
        var plan = Plan(q, diag);
        var groups = new SortedDictionary<long, (List<long> Ids, long Rows, long Bytes, bool Unsealed)>();
        foreach (var candidate in plan.Segments)
        {
            // Per partition of the segment's row groups (a packed segment, format 3, is listed in each group it has rows in).
            var footer = candidate.Segment.Footer;
            var perPartition = new SortedDictionary<long, (long Rows, long Bytes)>();
            for (int g = 0; g < footer.RowGroups.Length; g++)
            {
                if ((candidate.RowGroups is not null && !candidate.RowGroups.Contains(g)) || !plan.RowGroupMayMatch(footer, g)) continue;
                var (r, b) = perPartition.GetValueOrDefault(footer.RowGroups[g].Partition);
                perPartition[footer.RowGroups[g].Partition] = (r + footer.RowGroups[g].RowCount, b + footer.Chunks.Sum(c => (long)c[g].StoredLength));
            }
            // A segment with no row group left (index and zone maps) is still listed under its first partition, as before.
            if (perPartition.Count == 0) perPartition[footer.PartitionStart] = (0, 0);
            foreach (var (partition, (rows, bytes)) in perPartition)
            {
                var entry = groups.TryGetValue(partition, out var e) ? e : ([], 0, 0, false);
                entry.Ids.Add(candidate.Segment.Id);
                groups[partition] = (entry.Ids, entry.Rows + rows, entry.Bytes + bytes, entry.Unsealed);
            }
        }
        if (q.IncludeUnsealed)
        {
            foreach (var u in plan.Snapshot.Unsealed)
            {
                if (u.MaxTime < plan.From || u.MinTime >= plan.To) continue;
                var time = u.Rows.Columns[u.Rows.Schema.IndexOf(plan.Table.Definition.TimeColumn)];
                for (int i = 0; i < u.Rows.Length; i++)
                {
                    long t = time.Longs[i];
                    if (t < plan.From || t >= plan.To) continue;
                    long p = sealer.PartitionOf(t);
                    var entry = groups.TryGetValue(p, out var e) ? e : ([], 0, 0, false);
                    groups[p] = (entry.Ids, entry.Rows + 1, entry.Bytes, true);
                }
            }
        }
        long width = sealer.PartitionNs;
        var list = groups.Select(p => new SegmentGroup(p.Key, p.Key > long.MaxValue - width ? long.MaxValue : p.Key + width,
            p.Value.Ids, p.Value.Rows, p.Value.Bytes, p.Value.Unsealed)).ToList();
        long total = list.Sum(g => g.EstimatedRows);
        if (q.Limit is long limit) total = Math.Min(total, limit);
        return new QueryEstimate(total, list.Sum(g => g.Bytes), list);
    }
}
