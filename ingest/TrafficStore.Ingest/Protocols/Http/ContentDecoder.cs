using System.IO.Compression;

namespace TrafficStore.Ingest.Protocols.Http;

/// <summary>Outcome of <see cref="ContentDecoder.Decode"/>.</summary>
public enum ContentDecodeStatus : byte
{
    /// <summary>No coding other than identity: the body is its own decoded form.</summary>
    NotEncoded,
    /// <summary>All codings were removed.</summary>
    Decoded,
    /// <summary>Decoded, but only the first MaxDecodedBodyBytes were kept (the length is complete).</summary>
    DecodedOutputCapped,
    /// <summary>A coding this decoder does not know (compress, zstd, ...); nothing decoded.</summary>
    Unsupported,
    /// <summary>The data is not valid for its coding; nothing decoded.</summary>
    Failed,
}

/// <param name="Status">What happened.</param>
/// <param name="Decoded">The decoded bytes (possibly capped); null unless Status is Decoded or DecodedOutputCapped.</param>
/// <param name="DecodedLength">Full decoded length, also past the cap; null unless decoded.</param>
public readonly record struct ContentDecodeResult(ContentDecodeStatus Status, byte[]? Decoded, long? DecodedLength)
{
    /// <summary>Stable anomaly name for a failed or capped decode; null when nothing odd happened.</summary>
    public string? AnomalyName => Status switch
    {
        ContentDecodeStatus.Unsupported => "unsupported_content_encoding",
        ContentDecodeStatus.Failed => "content_decode_failed",
        ContentDecodeStatus.DecodedOutputCapped => "decoded_body_cap",
        _ => null,
    };
}

/// <summary>
/// Removes HTTP content codings (RFC 9110 §8.4.1): gzip / x-gzip, deflate (zlib-wrapped as the
/// RFC says, or raw as some servers send), br, identity, in any stack ("gzip, br" is decoded br
/// first, then gzip). Never throws on bad data.
/// </summary>
public static class ContentDecoder
{
    /// <summary>The codings of a Content-Encoding / Transfer-Encoding value, lower case, identity and chunked removed, in the order applied.</summary>
    public static List<string> ParseCodings(string? headerValue)
    {
        var codings = new List<string>();
        if (string.IsNullOrEmpty(headerValue)) return codings;
        foreach (var part in headerValue.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // a transfer-coding may carry parameters (";q=..." in TE, rare elsewhere)
            int semi = part.IndexOf(';');
            string name = (semi >= 0 ? part[..semi] : part).Trim().ToLowerInvariant();
            if (name.Length == 0 || name == "identity" || name == "chunked") continue;
            codings.Add(name);
        }
        return codings;
    }

    public static bool IsSupported(string coding) => coding is "gzip" or "x-gzip" or "deflate" or "br";

    /// <summary>
    /// Decodes <paramref name="body"/> whose codings were applied in the order given. <paramref name="stopPastCap"/>: stop
    /// inflating as soon as the output passes <paramref name="maxOutputBytes"/> (status capped, the length then only known to
    /// exceed the cap) instead of running through the rest to count it: for callers that refuse anything past the cap,
    /// so a decompression bomb costs them the cap, not its whole inflated size in CPU.
    /// </summary>
    public static ContentDecodeResult Decode(byte[] body, IReadOnlyList<string> codings, long? maxOutputBytes, bool stopPastCap = false)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(codings);
        if (codings.Count == 0) return new ContentDecodeResult(ContentDecodeStatus.NotEncoded, null, null);
        foreach (var c in codings)
        {
            if (!IsSupported(c)) return new ContentDecodeResult(ContentDecodeStatus.Unsupported, null, null);
        }
        long cap = maxOutputBytes is { } m && m >= 0 ? m : long.MaxValue;
        byte[] current = body;
        bool capped = false;
        long length = body.LongLength;
        for (int i = codings.Count - 1; i >= 0; i--)
        {
            if (!TryDecodeOne(current, codings[i], cap, stopPastCap, out var output, out length)) return new ContentDecodeResult(ContentDecodeStatus.Failed, null, null);
            current = output;
            if (length > output.LongLength)
            {
                capped = true;
                // an inner layer cut short cannot feed the next layer: keep what we have and stop
                if (i > 0) return new ContentDecodeResult(ContentDecodeStatus.DecodedOutputCapped, null, null);
            }
        }
        return new ContentDecodeResult(capped ? ContentDecodeStatus.DecodedOutputCapped : ContentDecodeStatus.Decoded, current, length);
    }

    private static bool TryDecodeOne(byte[] input, string coding, long cap, bool stopPastCap, out byte[] output, out long totalLength)
    {
        output = Array.Empty<byte>();
        totalLength = 0;
        try
        {
            using var source = new MemoryStream(input, writable: false);
            using Stream decoder = coding switch
            {
                "gzip" or "x-gzip" => new GZipStream(source, CompressionMode.Decompress),
                "br" => new BrotliStream(source, CompressionMode.Decompress),
                _ => LooksLikeZlib(input) ? new ZLibStream(source, CompressionMode.Decompress) : new DeflateStream(source, CompressionMode.Decompress),
            };
            using var kept = new MemoryStream();
            var buffer = new byte[16384];
            int n;
            while ((n = decoder.Read(buffer, 0, buffer.Length)) > 0)
            {
                long room = cap - kept.Length;
                if (room > 0) kept.Write(buffer, 0, (int)Math.Min(room, n));
                totalLength += n;
                if (stopPastCap && totalLength > cap) break;
            }
            output = kept.ToArray();
            return true;
        }
        catch (InvalidDataException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            // BrotliStream reports corrupt input this way ("Decoder ran into invalid data")
            return false;
        }
    }

    /// <summary>
    /// RFC 1950 §2.2: CMF (method 8 = deflate, window ≤ 32K) and FLG such that CMF*256+FLG is a
    /// multiple of 31. "deflate" is specified as zlib (RFC 9110 §8.4.1.2) but some servers send raw deflate.
    /// </summary>
    private static bool LooksLikeZlib(byte[] input) =>
        input.Length >= 2 && (input[0] & 0x0F) == 8 && (input[0] >> 4) <= 7 && ((input[0] << 8) | input[1]) % 31 == 0;
}
