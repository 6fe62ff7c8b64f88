namespace TrafficStore.Ingest.Capture;

/// <summary>
/// Converts timestamp ticks to nanoseconds exactly. pcapng's if_tsresol (draft-ietf-opsawg-pcapng,
/// section 4.2 "Interface Description Block") is one byte: when the top bit is clear the unit is
/// 10^-v seconds, when it is set the unit is 2^-v seconds. Decimal units scale by an integer
/// factor (or divide, for units finer than a nanosecond); binary units split whole seconds from
/// the fraction so no floating point is involved and nothing overflows.
/// </summary>
internal readonly struct TimestampResolution
{
    private readonly long _multiplier;  // decimal, v <= 9: ns = ticks * multiplier
    private readonly long _divisor;     // decimal, v > 9:  ns = ticks / divisor
    private readonly int _binaryShift;  // binary: unit 2^-shift s (0 when decimal)

    private TimestampResolution(long multiplier, long divisor, int binaryShift)
    {
        _multiplier = multiplier;
        _divisor = divisor;
        _binaryShift = binaryShift;
    }

    public static TimestampResolution Microseconds { get; } = FromTsresol(6);
    public static TimestampResolution Nanoseconds { get; } = FromTsresol(9);

    /// <summary>False for an if_tsresol that cannot be represented (10^-v with v > 18, 2^-v with v > 63).</summary>
    public static bool TryFromTsresol(byte tsresol, out TimestampResolution resolution)
    {
        int v = tsresol & 0x7F;
        if ((tsresol & 0x80) != 0)
        {
            if (v > 63)
            {
                resolution = Nanoseconds;
                return false;
            }
            // 2^0 is whole seconds: a plain decimal multiplier.
            resolution = v == 0 ? new TimestampResolution(1_000_000_000, 0, 0) : new TimestampResolution(0, 0, v);
            return true;
        }
        if (v > 18)
        {
            resolution = Nanoseconds;
            return false;
        }
        resolution = FromTsresol((byte)v);
        return true;
    }

    private static TimestampResolution FromTsresol(byte decimalExponent)
    {
        int v = decimalExponent;
        return v <= 9
            ? new TimestampResolution(Pow10(9 - v), 0, 0)
            : new TimestampResolution(0, Pow10(v - 9), 0);
    }

    private static long Pow10(int n)
    {
        long r = 1;
        for (int i = 0; i < n; i++) r *= 10;
        return r;
    }

    /// <summary>Nanoseconds for <paramref name="ticks"/> units (unsigned 64-bit pcapng timestamp).</summary>
    public long ToNanoseconds(ulong ticks)
    {
        if (_binaryShift > 0)
        {
            ulong seconds = ticks >> _binaryShift;
            ulong fraction = ticks & ((1UL << _binaryShift) - 1);
            ulong fractionNs = (ulong)(((UInt128)fraction * 1_000_000_000UL) >> _binaryShift);
            return unchecked((long)(seconds * 1_000_000_000UL + fractionNs));
        }
        if (_divisor != 0) return (long)(ticks / (ulong)_divisor);
        return unchecked((long)(ticks * (ulong)_multiplier));
    }
}
