using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Query;

internal sealed partial class QueryExecutor
{
    /// <summary>
    /// Time-ordered reads, partition by partition (newest first when descending). Within a partition each segment's
    /// row groups of that partition are one time-sorted run (zone maps confirm it; a row group that starts before its
    /// predecessor ends starts a new run) and each unsealed block is one; runs whose time ranges do not overlap are
    /// read one after another, row group by row group, emitting as read; overlapping runs are merged by time, each
    /// holding one decoded row group. So memory is bounded by the runs of one partition, not by its rows, and a limit
    /// or cancellation stops before the next row group is decoded. Ties: see <see cref="OrderedRun.Rank"/>.
    /// A packed segment (format 3) takes part in each partition it holds with that partition's row groups; it is
    /// opened once and closed after its last partition (or when the query stops).
    /// </summary>
    private async IAsyncEnumerable<RecordBatch> RunOrderedAsync(QueryPlan plan, QueryDiagnostics diag, [EnumeratorCancellation] CancellationToken ct)
    {
        bool descending = plan.Spec.Descending;
        long width = sealer.PartitionNs;
        // Each candidate under every partition its row groups may contribute to (those the index left, in
        // partitions overlapping the query's range), with those row groups.
        var byPartition = new SortedDictionary<long, List<(SegmentCandidate Candidate, List<int> RowGroups)>>();
        var lastVisit = new Dictionary<SegmentCandidate, long>();
        foreach (var candidate in plan.Segments)
        {
            var footer = candidate.Segment.Footer;
            List<int>? current = null;
            long currentPartition = 0;
            for (int g = 0; g < footer.RowGroups.Length; g++)
            {
                long p = footer.RowGroups[g].Partition;
                bool overlaps = p < plan.To && (p > long.MaxValue - width || p + width > plan.From);
                if (!overlaps || (candidate.RowGroups is not null && !candidate.RowGroups.Contains(g))) { diag.RowGroupsSkipped++; continue; }
                if (current is null || currentPartition != p)
                {
                    if (!byPartition.TryGetValue(p, out var list)) byPartition[p] = list = [];
                    list.Add((candidate, current = []));
                    currentPartition = p;
                    if (!lastVisit.TryGetValue(candidate, out long last) || (descending ? p < last : p > last)) lastVisit[candidate] = p;
                }
                current.Add(g);
            }
        }
        var partitions = new SortedSet<long>(byPartition.Keys);
        var unsealed = plan.Spec.IncludeUnsealed
            ? plan.Snapshot.Unsealed.Where(u => u.MaxTime >= plan.From && u.MinTime < plan.To).Select(u => u.Rows.Conform(plan.Schema)).ToList()
            : [];
        foreach (var block in unsealed)
        {
            var time = block.Columns[plan.TimeColumn];
            for (int i = 0; i < block.Length; i++)
                if (time.Longs[i] >= plan.From && time.Longs[i] < plan.To) partitions.Add(sealer.PartitionOf(time.Longs[i]));
        }
        var read = new OrderedRead(this, plan, diag, ct);
        try
        {
            foreach (var partition in descending ? partitions.Reverse() : partitions)
            {
                ct.ThrowIfCancellationRequested();
                long lo = Math.Max(plan.From, partition);
                long hi = partition > long.MaxValue - width ? plan.To : Math.Min(plan.To, partition + width);
                var entries = byPartition.GetValueOrDefault(partition) ?? [];
                var runs = read.Runs(entries, unsealed, lo, hi);
                try
                {
                    foreach (var cluster in OrderedRead.Clusters(runs, descending))
                        foreach (var batch in cluster.Count == 1 ? read.Stream(cluster[0]) : read.Merge(cluster))
                            yield return batch;
                }
                finally
                {
                    foreach (var run in runs) read.Release(run);
                    foreach (var (candidate, _) in entries)
                        if (lastVisit[candidate] == partition) read.Close(candidate);
                }
                if (runs.Count > 0) await Task.Yield();
            }
        }
        finally
        {
            // A query stopped early (limit, cancellation) leaves packed segments open: close them.
            read.CloseAll();
        }
    }

    /// <summary>The state of one ordered query: open segments, the partition being read, decoded row groups held.</summary>
    private sealed class OrderedRead(QueryExecutor executor, QueryPlan plan, QueryDiagnostics diag, CancellationToken ct)
    {
        private static readonly IComparer<(long Time, int Rank)> Ascending = Comparer<(long Time, int Rank)>.Create((a, b) => a.CompareTo(b));
        private static readonly IComparer<(long Time, int Rank)> Descending = Comparer<(long Time, int Rank)>.Create((a, b) => b.CompareTo(a));

        /// <summary>
        /// A run of fewer rows than this, between rows of other runs, is copied into a merged batch; a longer one is
        /// emitted straight from its row group (one batch or more of its own, no gather copy).
        /// </summary>
        private const int DirectRunRows = 1024;

        private readonly bool _descending = plan.Spec.Descending;
        private readonly Dictionary<SegmentCandidate, SegmentReader?> _open = [];
        private long _lo, _hi;
        private int _held;

        /// <summary>
        /// The runs of one partition, <c>[lo, hi)</c>: per segment, its row groups of the partition that zone maps do not
        /// rule out, cut where a row group starts before the previous one ends; then each unsealed block's matches.
        /// </summary>
        public List<OrderedRun> Runs(List<(SegmentCandidate Candidate, List<int> RowGroups)> entries, List<RowBlock> unsealed, long lo, long hi)
        {
            _lo = lo;
            _hi = hi;
            var runs = new List<OrderedRun>();
            int rank = 0;
            var chain = new List<int>();
            foreach (var (candidate, groups) in entries)
            {
                var footer = candidate.Segment.Footer;
                long min = long.MaxValue, max = long.MinValue;
                chain.Clear();
                foreach (int g in groups)
                {
                    if (!plan.RowGroupMayMatch(footer, g)) { diag.RowGroupsSkipped++; continue; }
                    // A chunk without a zone map has no non-null time, so no row that can match: it never breaks a chain.
                    var zone = plan.Chunk(footer, plan.TimeColumn, g)?.Zone ?? ZoneMap.None;
                    if (zone.Present && max != long.MinValue && zone.MinLong < max)
                    {
                        // Not written in time order (no sealer does this; kept correct rather than trusted): a new run.
                        runs.Add(SegmentRun(candidate, chain, min, max, rank++));
                        chain.Clear();
                        min = long.MaxValue;
                        max = long.MinValue;
                    }
                    chain.Add(g);
                    if (zone.Present)
                    {
                        min = Math.Min(min, zone.MinLong);
                        max = Math.Max(max, zone.MaxLong);
                    }
                }
                if (chain.Count > 0) runs.Add(SegmentRun(candidate, chain, min, max, rank++));
            }
            foreach (var block in unsealed)
            {
                diag.UnsealedRowsScanned += block.Length;
                var rows = plan.Select(c => block.Columns[c], block.Length, lo, hi);
                if (rows.Length == 0) continue;
                var time = block.Columns[plan.TimeColumn].Longs;
                SortByTime(rows, time);
                long min = time[rows[0]], max = time[rows[^1]];
                if (_descending) System.Array.Reverse(rows);
                runs.Add(new OrderedRun { Rank = rank++, Min = min, Max = max, Started = true, Block = block, Rows = rows, Time = time });
            }
            return runs;
        }

        private OrderedRun SegmentRun(SegmentCandidate candidate, List<int> chain, long min, long max, int rank)
        {
            // Clipped to the window (the rows that can match lie in it); a chain with no zone map holds no matching row.
            if (min > max) min = max = _lo;
            return new OrderedRun
            {
                Rank = rank, Candidate = candidate, RowGroups = [.. chain],
                Min = Math.Max(min, _lo), Max = Math.Min(max, _hi - 1),
            };
        }

        /// <summary>
        /// Runs grouped so that every row of a group comes before every row of the next (in reading order): sweeping
        /// the runs by start, a run joins the group when it starts before the group's furthest end (time, then rank).
        /// </summary>
        public static List<List<OrderedRun>> Clusters(List<OrderedRun> runs, bool descending)
        {
            var clusters = new List<List<OrderedRun>>();
            List<OrderedRun>? current = null;
            (long Time, int Rank) reach = default;
            foreach (var run in runs.OrderBy(r => r.Min).ThenBy(r => r.Rank))
            {
                if (current is null || reach.CompareTo((run.Min, run.Rank)) < 0)
                {
                    clusters.Add(current = []);
                    reach = (run.Max, run.Rank);
                }
                else if ((run.Max, run.Rank).CompareTo(reach) > 0) reach = (run.Max, run.Rank);
                current.Add(run);
            }
            if (descending) clusters.Reverse();
            return clusters;
        }

        /// <summary>A run that overlaps no other: its row groups one after another, each emitted as read (no comparisons).</summary>
        public IEnumerable<RecordBatch> Stream(OrderedRun run)
        {
            if (!Start(run)) yield break;
            do
            {
                foreach (var batch in Emit(run.Block!, plan.Projection, run.Rows, plan.Spec)) yield return batch;
            }
            while (Advance(run));
        }

        /// <summary>
        /// Overlapping runs merged by (time, rank): a priority queue holds each run under its next row's key (or, before
        /// its first row group is decoded, under its zone-map bound, so a run is decoded only when its rows are due).
        /// The run at the head gives rows up to the next run's key; a batch in progress is taken before a run moves
        /// to its next row group, so no more than one decoded row group per run is held.
        /// </summary>
        public IEnumerable<RecordBatch> Merge(List<OrderedRun> runs)
        {
            var queue = new PriorityQueue<int, (long Time, int Rank)>(_descending ? Descending : Ascending);
            for (int i = 0; i < runs.Count; i++)
            {
                var run = runs[i];
                queue.Enqueue(i, run.HasRows ? (run.HeadTime, run.Rank) : (_descending ? run.Max : run.Min, run.Rank));
            }
            var output = new MergedBatch(plan, runs.Count);
            int direct = Math.Min(DirectRunRows, Math.Max(plan.Spec.MaxBatchRows, 1));
            while (queue.TryDequeue(out int i, out _))
            {
                var run = runs[i];
                if (!run.Started)
                {
                    if (Start(run)) queue.Enqueue(i, (run.HeadTime, run.Rank));
                    continue;
                }
                int end = queue.TryPeek(out _, out var next) ? RunEnd(run, next) : run.Rows.Length;
                if (end - run.Position >= direct)
                {
                    if (output.Count > 0) yield return output.Take();
                    var rows = run.Position == 0 && end == run.Rows.Length ? run.Rows : run.Rows[run.Position..end];
                    foreach (var batch in Emit(run.Block!, plan.Projection, rows, plan.Spec)) yield return batch;
                }
                else
                {
                    var block = run.Block!;
                    for (int k = run.Position; k < end; k++)
                    {
                        int row = run.Rows[k];
                        long bytes = output.RowBytes(block, row);
                        if (!output.Fits(bytes)) yield return output.Take();
                        output.Add(i, block, row, bytes);
                    }
                }
                run.Position = end;
                if (run.HasRows)
                {
                    queue.Enqueue(i, (run.HeadTime, run.Rank));
                    continue;
                }
                // The batch may reference this row group: take it before the next one replaces it.
                if (run.Candidate is not null && output.Count > 0) yield return output.Take();
                if (Advance(run)) queue.Enqueue(i, (run.HeadTime, run.Rank));
            }
            if (output.Count > 0) yield return output.Take();
        }

        /// <summary>Where the head run's rows stop coming first: before the first row not ahead of <paramref name="next"/>.</summary>
        private int RunEnd(OrderedRun run, (long Time, int Rank) next)
        {
            var rows = run.Rows;
            var time = run.Time;
            int end = run.Position;
            // Equal times: the lower rank first (ascending), the higher rank first (descending).
            if (!_descending)
            {
                if (run.Rank < next.Rank) while (end < rows.Length && time[rows[end]] <= next.Time) end++;
                else while (end < rows.Length && time[rows[end]] < next.Time) end++;
            }
            else
            {
                if (run.Rank > next.Rank) while (end < rows.Length && time[rows[end]] >= next.Time) end++;
                else while (end < rows.Length && time[rows[end]] > next.Time) end++;
            }
            return end;
        }

        private bool Start(OrderedRun run)
        {
            if (run.Started) return run.HasRows;
            run.Started = true;
            return Advance(run);
        }

        /// <summary>
        /// Drops the run's current rows and decodes its next row group with matching rows (in reading order). False when
        /// the run is done (an unsealed run has one block; a segment run ends early if its segment is missing or corrupt).
        /// </summary>
        public bool Advance(OrderedRun run)
        {
            Release(run);
            if (run.Candidate is not { } candidate) return false;
            int n = run.RowGroups.Length;
            while (run.Consumed < n)
            {
                ct.ThrowIfCancellationRequested();
                int g = run.RowGroups[_descending ? n - 1 - run.Consumed : run.Consumed];
                run.Consumed++;
                if (!_open.TryGetValue(candidate, out var reader)) _open[candidate] = reader = executor.OpenSegment(plan, candidate.Segment, diag);
                if (reader is null) break;
                var read = executor.ReadRowGroup(plan, reader, g, diag, _lo, _hi);
                if (read is null)
                {
                    // Corrupt: quarantined, warning recorded; none of its other row groups or partitions are read.
                    reader.Dispose();
                    _open[candidate] = null;
                    break;
                }
                var (block, rows) = read.Value;
                if (rows.Length == 0) continue;
                Hold();
                var time = block.Columns[plan.TimeColumn].Longs;
                SortByTime(rows, time);
                if (_descending) System.Array.Reverse(rows);
                run.Block = block;
                run.Rows = rows;
                run.Time = time;
                run.Position = 0;
                return true;
            }
            run.Consumed = n;
            return false;
        }

        public void Release(OrderedRun run)
        {
            if (run.Block is null) return;
            if (run.Candidate is not null) _held--;
            run.Block = null;
            run.Rows = [];
            run.Time = [];
            run.Position = 0;
        }

        private void Hold()
        {
            _held++;
            if (_held > diag.MaxRowGroupsHeld) diag.MaxRowGroupsHeld = _held;
        }

        public void Close(SegmentCandidate candidate)
        {
            if (_open.Remove(candidate, out var reader)) reader?.Dispose();
        }

        public void CloseAll()
        {
            foreach (var reader in _open.Values) reader?.Dispose();
            _open.Clear();
        }

        /// <summary>
        /// Orders selected rows by time, equal times by row (a row group as sealed is already in order: one pass checks it).
        /// </summary>
        private static void SortByTime(int[] rows, long[] time)
        {
            for (int i = 1; i < rows.Length; i++)
            {
                if (time[rows[i]] >= time[rows[i - 1]]) continue;
                var keys = new (long Time, int Row)[rows.Length];
                for (int k = 0; k < rows.Length; k++) keys[k] = (time[rows[k]], rows[k]);
                System.Array.Sort(keys);
                for (int k = 0; k < rows.Length; k++) rows[k] = keys[k].Row;
                return;
            }
        }
    }
}
