namespace TrafficStore.Store.Client.Export;

/// <summary>What <see cref="CaptureFileWriter.TryWriteFrame"/> did with a frame.</summary>
internal enum CaptureWriteStatus : byte
{
    /// <summary>The frame's record is staged in <see cref="CaptureFileWriter.Pending"/>.</summary>
    Written,
    /// <summary>The staged chunk has no room for the record: send <see cref="CaptureFileWriter.Pending"/>, <see cref="CaptureFileWriter.Clear"/>, retry.</summary>
    ChunkFull,
    /// <summary>The record would take the file past <see cref="CaptureFileWriter.MaxBytes"/>; nothing was staged.</summary>
    LimitReached,
    /// <summary>A classic pcap file has one link type and the frame has another; nothing was staged.</summary>
    OtherLinkType,
    /// <summary>The frame's time is before 1970 or past what the format holds (a row stored by a client, not a capture); nothing was staged.</summary>
    TimeOutOfRange,
}

/// <summary>One frame to write: its bytes point into a record batch and are valid only during the call.</summary>
internal readonly ref struct ExportFrame
{
    public ExportFrame(long captureId, long interfaceId, int linkType, long timestampNs, ReadOnlySpan<byte> data, long originalLength)
    {
        CaptureId = captureId;
        InterfaceId = interfaceId;
        LinkType = linkType;
        TimestampNs = timestampNs;
        Data = data;
        OriginalLength = originalLength;
    }

    public long CaptureId { get; }
    public long InterfaceId { get; }
    public int LinkType { get; }
    /// <summary>Nanoseconds since the Unix epoch.</summary>
    public long TimestampNs { get; }
    public ReadOnlySpan<byte> Data { get; }
    public long OriginalLength { get; }
}

/// <summary>
/// Stages whole records of a capture file in one chunk the caller sends out when it is full, so a file of any
/// size passes through a buffer of <c>chunkBytes</c> (grown once for a record larger than that, never cut).
/// <see cref="TryWriteFrame"/> does not allocate; a full chunk is a status, not an exception, so the caller
/// can await the send (async all the way to a file, stdout or a Flight response).
/// </summary>
internal abstract class CaptureFileWriter
{
    private byte[] _chunk;
    private int _used;

    protected CaptureFileWriter(int chunkBytes, long? maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 256);
        if (maxBytes is long m) ArgumentOutOfRangeException.ThrowIfNegative(m, nameof(maxBytes));
        _chunk = new byte[chunkBytes];
        MaxBytes = maxBytes;
    }

    /// <summary>Largest file size allowed (headers included); null: none.</summary>
    public long? MaxBytes { get; }

    /// <summary>Bytes of file produced so far, staged or sent.</summary>
    public long BytesWritten { get; private set; }

    public long Frames { get; private set; }

    /// <summary>Frames whose stored original length was shorter than their bytes (written with the captured length).</summary>
    public long ShortOriginalLengths { get; private set; }

    /// <summary>The staged bytes, to be written out before <see cref="Clear"/>.</summary>
    public ReadOnlyMemory<byte> Pending => _chunk.AsMemory(0, _used);

    /// <summary>Capacity of the chunk (the largest write the caller sees, unless one record is larger).</summary>
    public int ChunkBytes => _chunk.Length;

    public void Clear() => _used = 0;

    /// <summary>Stages the record(s) for <paramref name="frame"/> (and whatever header must precede it).</summary>
    public CaptureWriteStatus TryWriteFrame(in ExportFrame frame)
    {
        // Rows a client stored with DoPut may hold what no capture does; one such row must not make every export fail.
        if (frame.TimestampNs < 0 || !HoldsTime(frame.TimestampNs)) return CaptureWriteStatus.TimeOutOfRange;
        if (frame.OriginalLength < frame.Data.Length)
        {
            // A frame is never longer on the wire than captured: the stored length is wrong, the bytes are kept.
            ShortOriginalLengths++;
            var repaired = new ExportFrame(frame.CaptureId, frame.InterfaceId, frame.LinkType, frame.TimestampNs, frame.Data, frame.Data.Length);
            return TryWriteFrame(repaired);
        }
        if (!Accepts(frame)) return CaptureWriteStatus.OtherLinkType;
        int length = RecordLength(frame);
        if (MaxBytes is long max && BytesWritten + length > max) return CaptureWriteStatus.LimitReached;
        if (_chunk.Length - _used < length)
        {
            if (_used > 0) return CaptureWriteStatus.ChunkFull;
            _chunk = new byte[length]; // one record larger than a chunk: written whole, never truncated
        }
        Write(frame, _chunk.AsSpan(_used, length));
        _used += length;
        BytesWritten += length;
        Frames++;
        return CaptureWriteStatus.Written;
    }

    /// <summary>Stages the file header; called once by the derived constructor.</summary>
    protected void StageHeader(ReadOnlySpan<byte> header)
    {
        header.CopyTo(_chunk.AsSpan(_used));
        _used += header.Length;
        BytesWritten += header.Length;
    }

    /// <summary>False when the format cannot hold this (non-negative) timestamp.</summary>
    protected virtual bool HoldsTime(long timestampNs) => true;

    /// <summary>False when the file cannot hold a frame of this link type.</summary>
    protected abstract bool Accepts(in ExportFrame frame);

    /// <summary>Bytes <see cref="Write"/> needs for <paramref name="frame"/>.</summary>
    protected abstract int RecordLength(in ExportFrame frame);

    /// <summary>Writes exactly <see cref="RecordLength"/> bytes into <paramref name="destination"/>.</summary>
    protected abstract void Write(in ExportFrame frame, Span<byte> destination);
}
