using Apache.Arrow;
using Apache.Arrow.Ipc;

namespace TrafficStore.Agent.Spool;

/// <summary>One record batch as a self-contained Arrow IPC stream (schema + batch + end marker), the spool's payload.</summary>
public static class ArrowIpc
{
    public static byte[] Serialize(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var stream = new MemoryStream();
        using (var writer = new ArrowStreamWriter(stream, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return stream.ToArray();
    }

    public static RecordBatch Deserialize(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        // Not disposed: the batch it returns keeps referring to buffers the reader allocated.
        var reader = new ArrowStreamReader(new MemoryStream(data, writable: false));
        return reader.ReadNextRecordBatch() ?? throw new InvalidDataException("spool record holds no record batch");
    }
}
