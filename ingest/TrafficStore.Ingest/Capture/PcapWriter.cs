namespace TrafficStore.Ingest.Capture;

/// <summary>
/// Writes a classic libpcap file (the format tcpdump -w writes; layout in <see cref="PcapFormat"/>) to a
/// stream. Used by the synthetic traffic generator; the store's export writes the same layout in
/// bounded chunks (TrafficStore.Store's PcapFileWriter).
/// </summary>
/// <remarks>
/// Frames longer than the snap length are cut to it, as a capturing tool would do; the record's
/// original length still tells the true size, so nothing is lost silently.
/// Records are staged in one buffer allocated up front; <see cref="WriteFrame"/> does not allocate.
/// </remarks>
public sealed class PcapWriter : IDisposable
{
    public const int FileHeaderLength = PcapFormat.FileHeaderLength;
    public const int RecordHeaderLength = PcapFormat.RecordHeaderLength;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer;
    private int _used;
    private bool _disposed;

    public LinkType LinkType { get; }
    public int SnapLength { get; }
    public bool Nanosecond { get; }

    /// <summary>Frames written so far.</summary>
    public long FrameCount { get; private set; }

    /// <summary>Bytes of file written so far (file header and record headers included).</summary>
    public long BytesWritten { get; private set; }

    public PcapWriter(Stream stream, LinkType linkType, int snaplen = PcapFormat.DefaultSnapLength, bool nanosecond = true,
        bool leaveOpen = false, int bufferSize = 1 << 20)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite) throw new ArgumentException("The stream must be writable.", nameof(stream));
        ArgumentOutOfRangeException.ThrowIfLessThan(snaplen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _stream = stream;
        _leaveOpen = leaveOpen;
        LinkType = linkType;
        SnapLength = snaplen;
        Nanosecond = nanosecond;
        _buffer = new byte[Math.Max(bufferSize, RecordHeaderLength + snaplen)];

        PcapFormat.WriteFileHeader(_buffer, nanosecond, snaplen, (int)linkType);
        _used = FileHeaderLength;
        BytesWritten = FileHeaderLength;
    }

    /// <summary>
    /// Appends one record. <paramref name="timestampNs"/> is nanoseconds since the Unix epoch
    /// (rounded down to microseconds in a microsecond file); <paramref name="originalLength"/>
    /// is the on-the-wire length, at least <paramref name="data"/>.Length.
    /// </summary>
    public void WriteFrame(long timestampNs, ReadOnlySpan<byte> data, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, data.Length);

        int captured = Math.Min(data.Length, SnapLength);
        int recordLength = RecordHeaderLength + captured;
        if (_buffer.Length - _used < recordLength) FlushBuffer();

        Span<byte> record = _buffer.AsSpan(_used, recordLength);
        PcapFormat.WriteRecordHeader(record, timestampNs, Nanosecond, captured, originalLength);
        data[..captured].CopyTo(record[RecordHeaderLength..]);
        _used += recordLength;
        BytesWritten += recordLength;
        FrameCount++;
    }

    /// <summary>Writes staged records to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushBuffer();
        _stream.Flush();
    }

    private void FlushBuffer()
    {
        if (_used == 0) return;
        _stream.Write(_buffer, 0, _used);
        _used = 0;
    }

    public void Dispose()
    {
        if (_disposed) return;
        FlushBuffer();
        _stream.Flush();
        _disposed = true;
        if (!_leaveOpen) _stream.Dispose();
    }
}
