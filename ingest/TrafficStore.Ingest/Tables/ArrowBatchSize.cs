using Apache.Arrow;

namespace TrafficStore.Ingest.Tables;

/// <summary>The Arrow data of a record batch: the bytes of its buffers (validity, offsets, values, children, dictionaries).</summary>
public static class ArrowBatchSize
{
    public static long Bytes(RecordBatch batch)
    {
        long total = 0;
        for (int c = 0; c < batch.ColumnCount; c++) total += Bytes(batch.Column(c).Data);
        return total;
    }

    public static long Bytes(ArrayData data)
    {
        long total = 0;
        foreach (var b in data.Buffers) total += b.Length;
        foreach (var child in data.Children ?? []) total += Bytes(child);
        if (data.Dictionary is { } d) total += Bytes(d);
        return total;
    }
}
