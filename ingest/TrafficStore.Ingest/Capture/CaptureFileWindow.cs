using System.Buffers;

namespace TrafficStore.Ingest.Capture;

/// <summary>
/// A sliding window over a capture file: one large reusable buffer from which the readers hand
/// out spans. Bytes stay where they are until the next <see cref="Ensure"/> call that needs room,
/// so a span handed out for a frame is valid until the reader's next read. The buffer grows only
/// when a single record or block is larger than it.
/// </summary>
internal sealed class CaptureFileWindow : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer;
    private int _start;      // first unconsumed byte
    private int _end;        // one past the last byte read from the stream
    private long _bufferFileOffset; // file offset of _buffer[0]
    private bool _endOfStream;

    public CaptureFileWindow(Stream stream, int initialSize)
    {
        _stream = stream;
        // Pooled: a 1 MiB array would otherwise land on the large-object heap once per file opened.
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialSize, 4096));
    }

    /// <summary>File offset of the next unconsumed byte.</summary>
    public long Position => _bufferFileOffset + _start;

    /// <summary>Unconsumed bytes currently buffered.</summary>
    public int Available => _end - _start;

    /// <summary>The buffered unconsumed bytes (at least what the last <see cref="Ensure"/> asked for).</summary>
    public ReadOnlySpan<byte> Span => _buffer.AsSpan(_start, _end - _start);

    /// <summary>
    /// Makes at least <paramref name="count"/> unconsumed bytes available, reading from the file
    /// as needed. Returns false when the file ends first (then <see cref="Available"/> says how
    /// many bytes there were).
    /// </summary>
    public bool Ensure(int count)
    {
        if (_end - _start >= count) return true;
        if (_endOfStream) return false;
        if (count > _buffer.Length)
        {
            // A record larger than the buffer: grow (rare; bounded by the readers' record limits).
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(count, _buffer.Length * 2));
            Buffer.BlockCopy(_buffer, _start, bigger, 0, _end - _start);
            ArrayPool<byte>.Shared.Return(_buffer);
            _bufferFileOffset += _start;
            _end -= _start;
            _start = 0;
            _buffer = bigger;
        }
        else if (_buffer.Length - _start < count)
        {
            // Slide the unconsumed tail to the front to make room after it.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _bufferFileOffset += _start;
            _end -= _start;
            _start = 0;
        }
        while (_end - _start < count)
        {
            int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read <= 0)
            {
                _endOfStream = true;
                return false;
            }
            _end += read;
        }
        return true;
    }

    /// <summary>Marks <paramref name="count"/> bytes consumed (they stay readable until the next <see cref="Ensure"/>).</summary>
    public void Advance(int count) => _start += count;

    /// <summary>True when everything in the file has been consumed.</summary>
    public bool AtEnd => _end == _start && !Ensure(1);

    public void Dispose()
    {
        _stream.Dispose();
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _start = _end = 0;
        _endOfStream = true;
    }
}
