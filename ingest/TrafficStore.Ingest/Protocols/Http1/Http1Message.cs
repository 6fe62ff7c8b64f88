namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>How the body of a message is delimited (RFC 9112 §6.3), decided once its header section is read.</summary>
internal enum Http1BodyMode : byte
{
    /// <summary>No body: the message ends with its header section.</summary>
    None,
    /// <summary>Content-Length bytes.</summary>
    ContentLength,
    /// <summary>chunked transfer coding, then trailers.</summary>
    Chunked,
    /// <summary>Everything until the connection closes (responses only).</summary>
    UntilClose,
    /// <summary>Framing cannot be known (bad Content-Length): the message ends here and the reader resyncs.</summary>
    Unknowable,
    /// <summary>The message ends here and the rest of this direction is an opaque tunnel.</summary>
    Tunnel,
    /// <summary>The message ends here and the rest of this direction goes to the HTTP/2 parser (h2c).</summary>
    Upgrade,
}

/// <summary>A growable byte buffer that keeps at most a cap of bytes and counts the rest.</summary>
internal sealed class BodyBuffer
{
    private byte[] _bytes = Array.Empty<byte>();
    private int _length;
    private readonly long _cap;

    /// <summary>Larger announced lengths (Content-Length) are not trusted for the first allocation.</summary>
    private const int MaxInitialBytes = 1 << 20;

    public BodyBuffer(long? cap, long expectedLength = 0)
    {
        _cap = cap is { } c && c >= 0 ? Math.Min(c, Array.MaxLength) : Array.MaxLength;
        long initial = Math.Min(Math.Min(expectedLength, _cap), MaxInitialBytes);
        if (initial > 0) _bytes = new byte[initial];
    }

    public bool Truncated { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        long room = _cap - _length;
        if (data.Length > room)
        {
            Truncated = true;
            data = data[..(int)Math.Max(0, room)];
        }
        if (data.Length == 0) return;
        if (_length + data.Length > _bytes.Length)
        {
            long want = Math.Max(_length + (long)data.Length, Math.Max(256, _bytes.Length * 2L));
            Array.Resize(ref _bytes, (int)Math.Min(want, Array.MaxLength));
        }
        data.CopyTo(_bytes.AsSpan(_length));
        _length += data.Length;
    }

    /// <summary>The kept bytes; hands over the buffer itself when it is exactly full (the usual Content-Length case). Call once.</summary>
    public byte[] ToArray() => _length == _bytes.Length ? _bytes : _bytes.AsSpan(0, _length).ToArray();
}

/// <summary>One HTTP/1.x message while it is read: start line, fields, body and where it came from.</summary>
internal sealed class Http1Message
{
    public Http1Message(bool isRequest) => IsRequest = isRequest;

    public bool IsRequest { get; }
    public string Method { get; set; } = "";
    public string Target { get; set; } = "";
    public string Version { get; set; } = "";
    public int Status { get; set; }
    public string Reason { get; set; } = "";
    public List<KeyValuePair<string, string>> Headers { get; } = new();
    public List<KeyValuePair<string, string>> Trailers { get; } = new();
    public List<Http1Anomaly> Anomalies { get; } = new();

    // framing, from all header lines (also those past the storage caps)
    public List<string> ContentLengths { get; } = new();
    public List<string> TransferEncodings { get; } = new();
    public string? Upgrade { get; set; }
    public long ContentLength { get; set; }

    public Http1BodyMode BodyMode { get; set; }
    /// <summary>Set when the message has a message body at all (chunked, Content-Length > 0, or close-delimited with bytes).</summary>
    public bool HasBody { get; set; }
    /// <summary>Body bytes after de-chunking, bytes missing from the capture included.</summary>
    public long BodyLength { get; set; }
    public long BodyMissingBytes { get; set; }
    public BodyBuffer? Body { get; set; }
    /// <summary>The message did not end properly (gap in framing, connection ended early).</summary>
    public bool Incomplete { get; set; }

    public long FirstByteNs { get; set; }
    public long LastByteNs { get; set; }
    public long CompleteFrame { get; set; }
    public long CompleteNs { get; set; }

    /// <summary>The connection parser's pairing slot for this message.</summary>
    public object? Tag { get; set; }

    public string? Header(string name)
    {
        foreach (var (n, v) in Headers)
        {
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase)) return v;
        }
        return null;
    }
}
