using System.Buffers.Binary;

namespace TrafficStore.Ingest.Capture;

/// <summary>
/// Writes a classic libpcap file (the format tcpdump -w writes; described in
/// draft-ietf-opsawg-pcap). Used by the synthetic traffic generator and by <c>export pcap</c>,
/// which must reproduce frames byte for byte.
/// </summary>
/// <remarks>
/// File header (24 bytes), all fields in the writer's byte order (we always write little-endian):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Magic Number                         |  a1b2c3d4 (µs) / a1b23c4d (ns)
/// |          Major Version (2)    |         Minor Version (4)     |
/// |                           Reserved1 (thiszone, 0)             |
/// |                           Reserved2 (sigfigs, 0)              |
/// |                            SnapLen                            |
/// |                     LinkType (and FCS bits)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Each record: seconds, fraction (µs or ns), captured length, original length, then the bytes.
/// Frames longer than the snap length are cut to it, as a capturing tool would do; the record's
/// original length still tells the true size, so nothing is lost silently.
/// Records are staged in one buffer allocated up front; <see cref="WriteFrame"/> does not allocate.
/// </remarks>
public sealed class PcapWriter : IDisposable
{
    public const uint MicrosecondMagic = 0xA1B2C3D4;
    public const uint NanosecondMagic = 0xA1B23C4D;
    public const int FileHeaderLength = 24;
    public const int RecordHeaderLength = 16;

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

    public PcapWriter(Stream stream, LinkType linkType, int snaplen = 262144, bool nanosecond = true,
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

        Span<byte> header = _buffer.AsSpan(0, FileHeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, nanosecond ? NanosecondMagic : MicrosecondMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)snaplen);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
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
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNs);
        // The seconds field is an unsigned 32-bit count: it ends in February 2106.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(timestampNs / 1_000_000_000, uint.MaxValue, nameof(timestampNs));
        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, data.Length);

        int captured = Math.Min(data.Length, SnapLength);
        int recordLength = RecordHeaderLength + captured;
        if (_buffer.Length - _used < recordLength) FlushBuffer();

        long seconds = timestampNs / 1_000_000_000;
        long fraction = timestampNs % 1_000_000_000;
        if (!Nanosecond) fraction /= 1000;
        Span<byte> record = _buffer.AsSpan(_used, recordLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)fraction);
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)captured);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)originalLength);
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
