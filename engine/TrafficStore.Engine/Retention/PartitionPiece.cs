namespace TrafficStore.Engine.Retention;

/// <summary>
/// The rows of one time partition in one segment: the unit retention deletes by age and by size. A segment
/// of one partition is one piece; a packed segment (format 3) is one piece per partition it holds, so its
/// older partitions are due on their own time, not on the time of the file's newest row.
/// </summary>
/// <param name="Bytes">The piece's share of the file: the file's bytes × the piece's share of the stored chunk bytes
/// (the pieces of a segment add up to its file size).</param>
internal sealed record PartitionPiece(TableState Table, SegmentHandle Segment, long Partition, int[] RowGroups, long MinTime, long MaxTime, long Bytes, long Rows)
{
    /// <summary>The pieces of a segment in partition order (row groups are in time order, so partitions never decrease).</summary>
    public static List<PartitionPiece> Of(TableState table, SegmentHandle h)
    {
        var footer = h.Footer;
        if (!footer.IsPacked)
            return [new PartitionPiece(table, h, footer.PartitionStart, Enumerable.Range(0, footer.RowGroups.Length).ToArray(),
                footer.MinTime, footer.MaxTime, h.FileBytes, footer.RowCount)];
        long allStored = 0;
        var stored = new long[footer.RowGroups.Length];
        foreach (var column in footer.Chunks)
            for (int g = 0; g < column.Length; g++) stored[g] += column[g].StoredLength;
        foreach (var s in stored) allStored += s;

        var pieces = new List<PartitionPiece>();
        long assigned = 0;
        int start = 0;
        while (start < footer.RowGroups.Length)
        {
            long partition = footer.RowGroups[start].Partition;
            int end = start + 1;
            while (end < footer.RowGroups.Length && footer.RowGroups[end].Partition == partition) end++;
            var groups = Enumerable.Range(start, end - start).ToArray();
            long pieceStored = groups.Sum(g => stored[g]);
            long rows = groups.Sum(g => (long)footer.RowGroups[g].RowCount);
            var (min, max) = footer.TimeRange(groups);
            long bytes = end == footer.RowGroups.Length ? h.FileBytes - assigned // the last piece takes the rounding
                : allStored == 0 ? h.FileBytes / footer.Partitions.Count : (long)((double)h.FileBytes * pieceStored / allStored);
            assigned += bytes;
            pieces.Add(new PartitionPiece(table, h, partition, groups, min, max, bytes, rows));
            start = end;
        }
        return pieces;
    }
}
