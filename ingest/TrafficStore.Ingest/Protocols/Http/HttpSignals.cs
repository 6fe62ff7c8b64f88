namespace TrafficStore.Ingest.Protocols.Http;

/// <summary>Bounds of the body scans done by <see cref="HttpSignals"/>.</summary>
public sealed record SignalOptions
{
    public static SignalOptions Default { get; } = new();

    /// <summary>Bytes of each body scanned for card numbers and e-mail addresses (the rest is not looked at).</summary>
    public int MaxScanBytes { get; init; } = 1024 * 1024;
}

/// <summary>
/// Security signals computed from one exchange, the same way for HTTP/1.x and HTTP/2: the
/// Authorization scheme (never the credentials), Luhn-valid card numbers and e-mail addresses in
/// the (decoded) bodies. A plain function: call <see cref="Apply"/> once the exchange is complete.
/// </summary>
public static class HttpSignals
{
    public static void Apply(HttpExchange exchange, SignalOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        options ??= SignalOptions.Default;
        exchange.AuthScheme = null;
        foreach (var (name, value) in exchange.RequestHeaders)
        {
            if (name.Equals("authorization", StringComparison.OrdinalIgnoreCase))
            {
                exchange.AuthScheme = AuthSchemeOf(value);
                break;
            }
        }
        int cards = 0, emails = 0;
        foreach (var body in new[] { exchange.RequestBodyDecoded ?? exchange.RequestBody, exchange.ResponseBodyDecoded ?? exchange.ResponseBody })
        {
            if (body is null) continue;
            var span = body.AsSpan(0, Math.Min(body.Length, Math.Max(0, options.MaxScanBytes)));
            cards += CountCardNumbers(span);
            emails += CountEmailAddresses(span);
        }
        exchange.CardNumbers = cards;
        exchange.EmailAddresses = emails;
    }

    /// <summary>RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]. Returns the scheme only.</summary>
    public static string? AuthSchemeOf(string authorizationValue)
    {
        var v = authorizationValue.AsSpan().Trim();
        int sp = v.IndexOfAny(' ', '\t');
        var scheme = sp >= 0 ? v[..sp] : v;
        return scheme.Length == 0 ? null : scheme.ToString();
    }

    /// <summary>
    /// Counts maximal runs of 13–19 ASCII digits, optionally grouped by single spaces or dashes
    /// ("4111 1111 1111 1111", "4111-1111-1111-1111"), that pass the Luhn check. A run touching a
    /// letter or digit on either side (part of a longer token) is not counted.
    /// </summary>
    public static int CountCardNumbers(ReadOnlySpan<byte> text)
    {
        int count = 0;
        Span<byte> digits = stackalloc byte[19];
        int i = 0;
        while (i < text.Length)
        {
            // Jump to the next digit with a vectorised search: bodies are mostly not digits.
            int next = text[i..].IndexOfAnyInRange((byte)'0', (byte)'9');
            if (next < 0) break;
            i += next;
            if (i > 0 && IsAlnum(text[i - 1]))
            {
                // a digit inside a word: skip the whole digit run
                while (i < text.Length && IsDigit(text[i])) i++;
                continue;
            }
            int n = 0;
            int j = i;
            bool tooLong = false;
            int end = i;
            while (j < text.Length)
            {
                byte b = text[j];
                if (IsDigit(b))
                {
                    if (n < digits.Length) digits[n] = b; else tooLong = true;
                    n++;
                    j++;
                    end = j;
                }
                else if ((b == ' ' || b == '-') && j + 1 < text.Length && IsDigit(text[j + 1]) && n > 0)
                {
                    j++;
                }
                else break;
            }
            bool followedByWord = end < text.Length && IsAlnum(text[end]);
            if (!tooLong && !followedByWord && n >= 13 && IsLuhnValid(digits[..n])) count++;
            i = Math.Max(end, i + 1);
        }
        return count;
    }

    /// <summary>Luhn (ISO/IEC 7812-1 annex B) over ASCII digits.</summary>
    public static bool IsLuhnValid(ReadOnlySpan<byte> asciiDigits)
    {
        if (asciiDigits.Length == 0) return false;
        int sum = 0;
        bool dbl = false;
        for (int k = asciiDigits.Length - 1; k >= 0; k--)
        {
            int d = asciiDigits[k] - '0';
            if (d < 0 || d > 9) return false;
            if (dbl)
            {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            dbl = !dbl;
        }
        return sum % 10 == 0;
    }

    /// <summary>
    /// Counts local@domain.tld shapes: a non-empty local part of atext/dots before '@' and a domain
    /// of at least two dot-separated labels after it, the last one alphabetic (RFC 5322 §3.4.1, simplified).
    /// </summary>
    public static int CountEmailAddresses(ReadOnlySpan<byte> text)
    {
        int count = 0;
        int from = 0;
        while (true)
        {
            int at = text[from..].IndexOf((byte)'@');
            if (at < 0) break;
            at += from;
            int l = at;
            while (l > 0 && IsLocalChar(text[l - 1])) l--;
            int r = at + 1;
            int dots = 0, lastLabelStart = r;
            bool lastLabelAlpha = true;
            while (r < text.Length)
            {
                byte b = text[r];
                if (b == '.' && r + 1 < text.Length && IsAlnum(text[r + 1]) && r > lastLabelStart)
                {
                    dots++;
                    lastLabelStart = r + 1;
                    lastLabelAlpha = true;
                    r++;
                    continue;
                }
                if (IsAlnum(b) || b == '-')
                {
                    if (!IsAlpha(b)) lastLabelAlpha = false;
                    r++;
                    continue;
                }
                break;
            }
            if (at - l > 0 && dots > 0 && lastLabelAlpha && r - lastLabelStart >= 2) count++;
            from = Math.Max(r, at + 1);
            if (from >= text.Length) break;
        }
        return count;
    }

    private static bool IsDigit(byte b) => b >= '0' && b <= '9';
    private static bool IsAlpha(byte b) => (b | 0x20) >= 'a' && (b | 0x20) <= 'z';
    private static bool IsAlnum(byte b) => IsDigit(b) || IsAlpha(b);
    private static bool IsLocalChar(byte b) => IsAlnum(b) || b is (byte)'.' or (byte)'_' or (byte)'%' or (byte)'+' or (byte)'-';
}
