using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>Caps of the HTTP/2 parser. Hitting any of them records an anomaly on the affected rows.</summary>
public sealed record Http2Options
{
    /// <summary>Largest frame payload buffered (RFC 9113 allows up to 2^24-1 after SETTINGS_MAX_FRAME_SIZE). Larger frames are skipped: <c>h2_frame_too_large</c>.</summary>
    public int MaxFrameSize { get; init; } = 1 << 20;

    /// <summary>Decoded header list cap per header block (names + values + 32 per field): <c>h2_header_list_too_large</c>.</summary>
    public int MaxHeaderListSize { get; init; } = 64 * 1024;

    /// <summary>Body keeping and content decoding, shared with HTTP/1.x: <c>body_cap</c>, <c>decoded_body_cap</c>, <c>content_decode_failed</c>, <c>unsupported_content_encoding</c>.</summary>
    public PayloadOptions Payload { get; init; } = PayloadOptions.Default;

    /// <summary>Bounds of the security-signal scans (<see cref="HttpSignals"/>) run on every emitted row.</summary>
    public SignalOptions Signals { get; init; } = SignalOptions.Default;

    /// <summary>Open streams tracked per connection; further streams are ignored: <c>h2_too_many_streams</c>.</summary>
    public int MaxOpenStreams { get; init; } = 1000;

    /// <summary>Bytes searched for a frame boundary when picking up mid-stream or after a gap.</summary>
    public int MaxResyncBytes { get; init; } = 256 * 1024;

    public static Http2Options Default { get; } = new();
}
