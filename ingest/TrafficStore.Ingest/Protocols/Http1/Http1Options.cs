using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>Caps of the HTTP/1.x parser. Hitting one records an anomaly; none throws.</summary>
public sealed record Http1Options
{
    public static Http1Options Default { get; } = new();

    /// <summary>
    /// Longest start line or header field line that is buffered and parsed; a longer line is
    /// skipped (anomaly). Also the header bytes kept per message: lines past it are still read
    /// for framing (Content-Length, Transfer-Encoding) but not stored.
    /// </summary>
    public int MaxHeaderBytes { get; init; } = 64 * 1024;

    /// <summary>Header fields kept per message; later ones are read for framing but not stored.</summary>
    public int MaxHeaders { get; init; } = 256;

    /// <summary>Longest chunk-size line (RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF).</summary>
    public int MaxChunkLineBytes { get; init; } = 4096;

    /// <summary>
    /// Client bytes held after an Upgrade or CONNECT request until the response says whether the
    /// connection switches protocol; past it the bytes are parsed as HTTP/1 again.
    /// </summary>
    public int MaxHeldUpgradeBytes { get; init; } = 256 * 1024;

    /// <summary>Body keeping and content decoding.</summary>
    public PayloadOptions Payload { get; init; } = PayloadOptions.Default;

    /// <summary>Bounds of the security-signal scans run on every emitted exchange.</summary>
    public SignalOptions Signals { get; init; } = SignalOptions.Default;
}
