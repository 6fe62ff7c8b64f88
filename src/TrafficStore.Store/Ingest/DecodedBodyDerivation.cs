using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Decides whether a message's decoded body can be left out of the payloads table: when decoding the
/// stored body again with the codings its headers name (Content-Encoding, then Transfer-Encoding other
/// than chunked, RFC 9110 §8.4 / RFC 9112 §6.1, as the parsers apply them) gives exactly the decoded body
/// the parser produced, only the codings are stored and reads decode again
/// (<see cref="Client.DecodedBodyReader"/>). Checked byte for byte, so a capped or otherwise different
/// decoded body is stored as it is.
/// </summary>
internal static class DecodedBodyDerivation
{
    /// <summary>The codings to store instead of <paramref name="decoded"/>, or null to store it.</summary>
    public static string? Codings(byte[]? body, byte[]? decoded, IEnumerable<KeyValuePair<string, string>> headers)
    {
        if (body is null || decoded is null) return null;
        var codings = new List<string>();
        foreach (var (name, value) in headers)
            if (name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)) codings.AddRange(ContentDecoder.ParseCodings(value));
        foreach (var (name, value) in headers)
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) codings.AddRange(ContentDecoder.ParseCodings(value));
        if (codings.Count == 0) return null;
        var again = ContentDecoder.Decode(body, codings, maxOutputBytes: null);
        if (again.Status != ContentDecodeStatus.Decoded || again.Decoded is null || !again.Decoded.AsSpan().SequenceEqual(decoded)) return null;
        return string.Join(", ", codings);
    }

    /// <summary>
    /// Largest body decoded again at read time: ingest's default cap on decoded bodies, so every row ingest
    /// derived decodes within it. A row a client stored with DoPut may hold a decompression bomb (a few MB
    /// of gzip that inflate to gigabytes): without a cap one query of it would exhaust the server's memory.
    /// </summary>
    public static readonly long MaxDecodedBytes = new PayloadOptions().MaxDecodedBodyBytes ?? 256L << 20;

    /// <summary>The decoded body again, from the stored body and codings (null when it no longer decodes, or decodes past <see cref="MaxDecodedBytes"/>).</summary>
    public static byte[]? Decode(byte[] body, string codings)
    {
        var result = ContentDecoder.Decode(body, ContentDecoder.ParseCodings(codings), maxOutputBytes: MaxDecodedBytes);
        return result.Status == ContentDecodeStatus.Decoded ? result.Decoded : null;
    }
}
