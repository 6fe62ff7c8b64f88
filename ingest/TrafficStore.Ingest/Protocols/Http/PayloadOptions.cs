namespace TrafficStore.Ingest.Protocols.Http;

/// <summary>
/// How much of an HTTP message body is kept and decoded. Shared by the HTTP/1.x and HTTP/2
/// parsers. Nothing is cut by default: every cap is opt-in, except the decoded-body cap which
/// guards against decompression bombs (a 1 MB gzip body can inflate to 1 GB); hitting any cap
/// sets <see cref="HttpExchange.BodyTruncated"/> and records an anomaly, and lengths keep counting.
/// </summary>
public sealed record PayloadOptions
{
    public static PayloadOptions Default { get; } = new();

    /// <summary>Raw body bytes kept per message (after de-chunking); null = unlimited.</summary>
    public long? MaxBodyBytes { get; init; }

    /// <summary>Decode Content-Encoding (gzip, deflate, br, stacked) into *BodyDecoded.</summary>
    public bool DecodeContent { get; init; } = true;

    /// <summary>Decoded bytes kept per message; the decoded length is still counted past it. null = unlimited.</summary>
    public long? MaxDecodedBodyBytes { get; init; } = 256L * 1024 * 1024;
}
