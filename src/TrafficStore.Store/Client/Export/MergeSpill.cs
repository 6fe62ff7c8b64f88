using System.Buffers.Binary;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// A temp file holding frames in the order one merge pass took them, each with its merge key, for an export of more
/// captures overlapping in time than <see cref="PcapExportOptions.MaxOpenCaptures"/> (<see cref="PcapExporter"/>).
/// Written once, then read once from the start; deleted when disposed (or by the OS when the process dies).
/// <code>
/// per frame: i64 ts | i64 capture | i64 interface | i32 link type | i64 original length | i32 stream | i32 length | bytes
/// </code>
/// </summary>
internal sealed class MergeSpill : IAsyncDisposable
{
    private const int HeaderLength = 8 + 8 + 8 + 4 + 8 + 4 + 4;
    private const int BufferBytes = 64 << 10;
    private readonly FileStream _file;
    private readonly byte[] _header = new byte[HeaderLength];
    private byte[] _data = new byte[2048];

    public MergeSpill()
    {
        var path = Path.Combine(Path.GetTempPath(), $"trafficstore-export-{Guid.NewGuid():N}.spill");
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, BufferBytes, FileOptions.DeleteOnClose);
    }

    public void Write(CaptureOrderBuffer.Pinned batch, int row, int stream)
    {
        var frame = batch[row];
        var header = _header.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(header, frame.TimestampNs);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], frame.CaptureId);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], frame.InterfaceId);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], frame.LinkType);
        BinaryPrimitives.WriteInt64LittleEndian(header[28..], frame.OriginalLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[36..], stream);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], frame.Data.Length);
        _file.Write(header);
        _file.Write(frame.Data);
    }

    /// <summary>Ends writing; reading starts at the first frame.</summary>
    public void Rewind()
    {
        _file.Flush();
        _file.Position = 0;
    }

    public long Time { get; private set; }
    public long Capture { get; private set; }
    public int Stream { get; private set; }

    /// <summary>The merge key of the frame read last: as the pass that spilled it compared it.</summary>
    public (long Time, long Capture, int Stream) Key => (Time, Capture, Stream);

    /// <summary>Reads the next frame; false at the end.</summary>
    public async ValueTask<bool> ReadNextAsync(CancellationToken ct)
    {
        int read = await _file.ReadAtLeastAsync(_header, HeaderLength, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (read == 0) return false;
        if (read < HeaderLength) throw new InvalidDataException("export spill file cut short");
        Time = BinaryPrimitives.ReadInt64LittleEndian(_header);
        Capture = BinaryPrimitives.ReadInt64LittleEndian(_header.AsSpan(8));
        Stream = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(36));
        int length = BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(40));
        if (_data.Length < length) _data = new byte[Math.Max(length, _data.Length * 2)];
        await _file.ReadExactlyAsync(_data.AsMemory(0, length), ct).ConfigureAwait(false);
        return true;
    }

    /// <summary>The frame read last.</summary>
    public ExportFrame Frame => new(Capture, BinaryPrimitives.ReadInt64LittleEndian(_header.AsSpan(16)), BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(24)),
        Time, _data.AsSpan(0, BinaryPrimitives.ReadInt32LittleEndian(_header.AsSpan(40))), BinaryPrimitives.ReadInt64LittleEndian(_header.AsSpan(28)));

    public ValueTask DisposeAsync() => _file.DisposeAsync();
}
