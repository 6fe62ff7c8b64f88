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

    /// <summary>The length <see cref="Serialize"/> would return, counted without keeping the bytes.</summary>
    public static long SerializedLength(RecordBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var stream = new CountingStream();
        using (var writer = new ArrowStreamWriter(stream, batch.Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return stream.Length;
    }

    public static RecordBatch Deserialize(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        // Not disposed: the batch it returns keeps referring to buffers the reader allocated.
        var reader = new ArrowStreamReader(new MemoryStream(data, writable: false));
        return reader.ReadNextRecordBatch() ?? throw new InvalidDataException("spool record holds no record batch");
    }
}

/// <summary>A write-only stream that keeps nothing but the number of bytes written.</summary>
internal sealed class CountingStream : Stream
{
    private long _length;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _length;
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override void Write(byte[] buffer, int offset, int count) => _length += count;
    public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) { _length += count; return Task.CompletedTask; }
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) { _length += buffer.Length; return ValueTask.CompletedTask; }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
