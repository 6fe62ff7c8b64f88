using Apache.Arrow;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Agent.Capture;

/// <summary>
/// Builds a table's rows into batches of at most a byte bound (the Arrow buffers a batch holds), rows in
/// order, so that every batch the agent spools fits one DoPut message (docs/agent.md "Message size"). A
/// flush on a busy node, or a replay, can buffer hundreds of MB of one table (payloads: HTTP bodies); one
/// batch of it would exceed the server's gRPC receive limit. Batches within the bound are built once; a
/// larger one is rebuilt from even row chunks, each cut again until it fits. A single row over the bound
/// stays a batch of its own (the shipper skips and counts it).
/// </summary>
internal sealed class BoundedBatches<T>(ArrowBatchBuilder<T> builder, long maxBytes)
{
    public List<RecordBatch> Build(IReadOnlyList<T> rows)
    {
        var batches = new List<RecordBatch>();
        if (rows.Count > 0) Cut(rows, 0, rows.Count, batches);
        return batches;
    }

    private void Cut(IReadOnlyList<T> rows, int start, int count, List<RecordBatch> batches)
    {
        var batch = builder.Build(start == 0 && count == rows.Count ? rows : new ListSlice(rows, start, count));
        long bytes = ArrowBatchSize.Bytes(batch); // the IPC body, less padding and framing
        if (bytes <= maxBytes || count == 1) { batches.Add(batch); return; }
        batch.Dispose();
        // Rows are of uneven size (bodies): chunks by the average, then each cut again if still over.
        int chunks = (int)Math.Min(count, Math.Max(2, (bytes + maxBytes - 1) / maxBytes));
        for (int i = 0; i < chunks; i++)
        {
            int from = (int)((long)count * i / chunks), to = (int)((long)count * (i + 1) / chunks);
            if (to > from) Cut(rows, start + from, to - from, batches);
        }
    }

    private sealed class ListSlice(IReadOnlyList<T> rows, int start, int count) : IReadOnlyList<T>
    {
        public T this[int index] => (uint)index < (uint)count ? rows[start + index] : throw new ArgumentOutOfRangeException(nameof(index));
        public int Count => count;
        public IEnumerator<T> GetEnumerator()
        {
            for (int i = 0; i < count; i++) yield return rows[start + i];
        }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
