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
    /// Largest body decoded again at read time for a row that does not record its decoded length (rows of payloads
    /// version 2, before 2026-11-26, and rows a client stored without it): ingest's default cap on decoded bodies, so
    /// every such row ingest derived under the default decodes within it. A row a client stored with DoPut may hold a
    /// decompression bomb (a few MB of gzip that inflate to gigabytes): without a cap one query of it would exhaust
    /// the server's memory.
    /// </summary>
    public static readonly long MaxDecodedBytes = new PayloadOptions().MaxDecodedBodyBytes ?? 256L << 20;

    /// <summary>
    /// The decoded body again, from the stored body and codings, or null when it no longer decodes to what was derived.
    /// A row that records its decoded length (<c>body_decoded_len</c>, written with every derived row since payloads
    /// version 3) is decoded to exactly that length — whatever <c>MaxDecodedBodyBytes</c> ingest ran with — and not a
    /// byte further (more or fewer bytes: null). A row without it is decoded up to <paramref name="maxUnrecorded"/>
    /// (<see cref="MaxDecodedBytes"/>; tests pass a small one), as before.
    /// </summary>
    public static byte[]? Decode(byte[] body, string codings, long? recordedLength, long maxUnrecorded)
    {
        long cap = recordedLength ?? maxUnrecorded;
        if (cap < 0 || cap > Array.MaxLength) return null; // no byte array holds it: not a length ingest recorded
        var result = ContentDecoder.Decode(body, ContentDecoder.ParseCodings(codings), maxOutputBytes: cap);
        if (result.Status != ContentDecodeStatus.Decoded || result.Decoded is null) return null;
        return recordedLength is long n && result.Decoded.Length != n ? null : result.Decoded;
    }
}
