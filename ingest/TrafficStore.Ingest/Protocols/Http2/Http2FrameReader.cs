namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>Receives whole frames from an <see cref="Http2FrameReader"/>.</summary>
internal interface IHttp2FrameHandler
{
    /// <param name="firstSegment">Segment that carried the frame's first octet.</param>
    /// <param name="lastSegment">Segment that completed the frame.</param>
    void OnFrame(in Http2FrameHeader header, ReadOnlySpan<byte> payload, SegmentInfo firstSegment, SegmentInfo lastSegment);

    /// <summary>A frame longer than the cap; its payload is skipped.</summary>
    void OnFrameTooLarge(in Http2FrameHeader header);
}

/// <summary>
/// Cuts one direction's byte stream into frames. Incremental: a frame split over segments is
/// gathered in a buffer (grown up to the frame size cap); frames wholly inside one segment are
/// handed over straight from the caller's span. After a gap, or when the stream was picked up
/// mid-connection, it searches for a frame boundary (a chain of plausible frame headers).
/// </summary>
internal sealed class Http2FrameReader
{
    private readonly int _maxFrameSize;
    private readonly int _maxResyncBytes;
    private byte[] _buffer = new byte[Http2FrameHeader.Size];
    private int _buffered;
    private long _skip;
    private SegmentInfo _firstSegment;
    private int _resyncScanned;

    public Http2FrameReader(int maxFrameSize, int maxResyncBytes)
    {
        // at least one default-size frame and its successor's header must fit the search window
        _maxFrameSize = Math.Max(maxFrameSize, 0);
        _maxResyncBytes = Math.Max(maxResyncBytes, 2 * (Http2FrameHeader.Size + Http2FrameHeader.DefaultMaxFrameSize));
    }

    /// <summary>Searching for a frame boundary (mid-stream pickup or after a gap).</summary>
    public bool Resyncing { get; private set; }

    /// <summary>Bytes dropped while searching for a frame boundary.</summary>
    public long DroppedBytes { get; private set; }

    public void StartResync()
    {
        Resyncing = true;
        _resyncScanned = 0;
        _buffered = 0;
        _skip = 0;
    }

    public void Feed(ReadOnlySpan<byte> data, SegmentInfo segment, IHttp2FrameHandler handler)
    {
        while (!data.IsEmpty)
        {
            if (_skip > 0)
            {
                int n = (int)Math.Min(_skip, data.Length);
                _skip -= n;
                data = data[n..];
                continue;
            }
            if (Resyncing)
            {
                data = FeedResync(data, segment, handler);
                continue;
            }
            if (_buffered == 0)
            {
                _firstSegment = segment;
                // fast path: whole frames inside this segment are parsed in place
                if (data.Length >= Http2FrameHeader.Size)
                {
                    var header = Http2FrameHeader.Read(data);
                    if (header.Length > _maxFrameSize)
                    {
                        handler.OnFrameTooLarge(header);
                        _skip = header.Length;
                        data = data[Http2FrameHeader.Size..];
                        continue;
                    }
                    int total = Http2FrameHeader.Size + header.Length;
                    if (data.Length >= total)
                    {
                        handler.OnFrame(header, data.Slice(Http2FrameHeader.Size, header.Length), segment, segment);
                        data = data[total..];
                        continue;
                    }
                }
            }
            data = Gather(data, segment, handler);
        }
    }

    /// <summary>Adds bytes of a frame that spans segments; hands it over once complete.</summary>
    private ReadOnlySpan<byte> Gather(ReadOnlySpan<byte> data, SegmentInfo segment, IHttp2FrameHandler handler)
    {
        if (_buffered < Http2FrameHeader.Size)
        {
            int n = Math.Min(Http2FrameHeader.Size - _buffered, data.Length);
            data[..n].CopyTo(_buffer.AsSpan(_buffered));
            _buffered += n;
            data = data[n..];
            if (_buffered < Http2FrameHeader.Size) return data;
        }
        var header = Http2FrameHeader.Read(_buffer);
        if (header.Length > _maxFrameSize)
        {
            handler.OnFrameTooLarge(header);
            _skip = header.Length;
            _buffered = 0;
            return data;
        }
        int total = Http2FrameHeader.Size + header.Length;
        if (_buffer.Length < total) Array.Resize(ref _buffer, Math.Max(total, Math.Min(_buffer.Length * 2, Http2FrameHeader.Size + _maxFrameSize)));
        int take = Math.Min(total - _buffered, data.Length);
        data[..take].CopyTo(_buffer.AsSpan(_buffered));
        _buffered += take;
        data = data[take..];
        if (_buffered == total)
        {
            _buffered = 0;
            handler.OnFrame(header, _buffer.AsSpan(Http2FrameHeader.Size, header.Length), _firstSegment, segment);
        }
        return data;
    }

    /// <summary>
    /// Mid-stream: buffer bytes and look for the first offset where two plausible frame headers
    /// follow each other. The decision at an offset waits until both headers are visible, so it
    /// depends only on the bytes, never on how they were split into segments.
    /// </summary>
    private ReadOnlySpan<byte> FeedResync(ReadOnlySpan<byte> data, SegmentInfo segment, IHttp2FrameHandler handler)
    {
        int n = Math.Min(data.Length, Math.Max(0, _maxResyncBytes - _buffered));
        if (n == 0)
        {
            // nothing found in the window: drop the older half and keep looking
            int drop = _buffered / 2;
            _buffer.AsSpan(drop, _buffered - drop).CopyTo(_buffer);
            _buffered -= drop;
            _resyncScanned = Math.Max(0, _resyncScanned - drop);
            DroppedBytes += drop;
            return data;
        }
        if (_buffer.Length < _buffered + n) Array.Resize(ref _buffer, Math.Max(_buffered + n, Math.Min(_buffer.Length * 2, _maxResyncBytes)));
        data[..n].CopyTo(_buffer.AsSpan(_buffered));
        _buffered += n;
        data = data[n..];

        var window = _buffer.AsSpan(0, _buffered);
        for (int offset = _resyncScanned; offset + Http2FrameHeader.Size <= window.Length; offset++)
        {
            var first = window[offset..];
            if (!Http2FrameHeader.IsPlausible(first))
            {
                _resyncScanned = offset + 1;
                continue;
            }
            long next = (long)offset + Http2FrameHeader.Size + Http2FrameHeader.Read(first).Length;
            if (next + Http2FrameHeader.Size > window.Length) return data; // wait until the successor is visible
            if (!Http2FrameHeader.IsPlausible(window[(int)next..]))
            {
                _resyncScanned = offset + 1;
                continue;
            }
            DroppedBytes += offset;
            var rest = window[offset..].ToArray();
            Resyncing = false;
            _buffered = 0;
            _resyncScanned = 0;
            // replay what was buffered as ordinary input, then go on with the segment
            Feed(rest, segment, handler);
            return data;
        }
        return data;
    }
}
