using System.Globalization;

namespace TrafficStore.Store.Query;

/// <summary>
/// Time literals of the query language: "now", relative offsets ("-15m", "-2h", "-30s", "-1d",
/// "+5m"), ISO 8601 instants ("2026-11-26T14:02:00Z"), epoch seconds with up to 9 decimals
/// ("1362692526.869344"), and integer nanoseconds in JSON.
/// </summary>
public static class QueryTime
{
    public static long Parse(string text, long nowNs)
    {
        try
        {
            return ParseChecked(text, nowNs);
        }
        catch (OverflowException)
        {
            throw new QueryException($"time '{text.Trim()}' is out of range (instants are nanoseconds since 1970 in 64 bits: 1677-09-21 to 2262-04-11)");
        }
    }

    private static long ParseChecked(string text, long nowNs)
    {
        var t = text.Trim();
        if (t.Length == 0) throw new QueryException("empty time value");
        if (t.Equals("now", StringComparison.OrdinalIgnoreCase)) return nowNs;
        if ((t[0] == '-' || t[0] == '+') && t.Length >= 3 && char.IsLetter(t[^1]))
        {
            long unit = t[^1] switch
            {
                's' => 1_000_000_000L,
                'm' => 60_000_000_000L,
                'h' => 3_600_000_000_000L,
                'd' => 86_400_000_000_000L,
                _ => throw new QueryException($"time offset '{t}' has an unknown unit '{t[^1]}' (use s, m, h or d)"),
            };
            if (!double.TryParse(t.AsSpan(1, t.Length - 2), NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0)
                throw new QueryException($"time offset '{t}' is not a number followed by s, m, h or d");
            long delta = checked((long)(amount * unit));
            return checked(t[0] == '-' ? nowNs - delta : nowNs + delta);
        }
        if (IsEpochSeconds(t)) return ParseEpochSeconds(t);
        if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
            return checked((dto.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100);
        throw new QueryException($"'{t}' is not a time (use now, -15m, an ISO 8601 instant or epoch seconds)");
    }

    private static bool IsEpochSeconds(string t)
    {
        int dots = 0, digits = 0;
        foreach (char c in t)
        {
            if (c == '.') dots++;
            else if (char.IsAsciiDigit(c)) digits++;
            else return false;
        }
        // "." alone has no digit: not a time (and not a crash in long.Parse).
        return dots <= 1 && digits > 0 && t.Length <= 22;
    }

    /// <summary>"1362692526.869344" to ns without going through floating point.</summary>
    public static long ParseEpochSeconds(string t)
    {
        int dot = t.IndexOf('.');
        var whole = dot < 0 ? t : t[..dot];
        if (whole.Length == 0) whole = "0"; // ".5" is half a second past the epoch
        var frac = dot < 0 ? "" : t[(dot + 1)..];
        if (frac.Length > 9) throw new QueryException($"'{t}' has more than 9 decimals");
        long seconds = long.Parse(whole, CultureInfo.InvariantCulture);
        long ns = frac.Length == 0 ? 0 : long.Parse(frac.PadRight(9, '0'), CultureInfo.InvariantCulture);
        return checked(seconds * 1_000_000_000L + ns);
    }

    public static long NowNs() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}
