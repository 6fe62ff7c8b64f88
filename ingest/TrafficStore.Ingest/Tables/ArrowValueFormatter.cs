using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Ingest.Tables;

/// <summary>
/// Formats values of Arrow arrays the way <see cref="Column{T}.FormatText"/> does, so query
/// results print exactly like <c>inspect</c> output (timestamps as epoch seconds, 9 decimals).
/// </summary>
public static class ArrowValueFormatter
{
    public static string Format(IArrowArray array, int index)
    {
        if (array.IsNull(index)) return "";
        switch (array)
        {
            case TimestampArray ts:
                return Column<object>.FormatSeconds(ToNanoseconds(ts.GetValue(index)!.Value, ((TimestampType)ts.Data.DataType).Unit));
            case DurationArray du:
                return Column<object>.FormatSeconds(ToNanoseconds(du.GetValue(index)!.Value, ((DurationType)du.Data.DataType).Unit));
            case Int64Array l: return l.GetValue(index)!.Value.ToString(CultureInfo.InvariantCulture);
            case Int32Array i: return i.GetValue(index)!.Value.ToString(CultureInfo.InvariantCulture);
            case UInt64Array ul: return ul.GetValue(index)!.Value.ToString(CultureInfo.InvariantCulture);
            case DoubleArray d: return d.GetValue(index)!.Value.ToString("R", CultureInfo.InvariantCulture);
            case BooleanArray b: return b.GetValue(index)!.Value ? "1" : "0";
            case StringArray s: return s.GetString(index) ?? "";
            case BinaryArray bin: return Convert.ToHexStringLower(bin.GetBytes(index));
            default: return array.Data.DataType.Name;
        }
    }

    /// <summary>The value as a JSON-friendly object (ns integers for time columns).</summary>
    public static object? GetValue(IArrowArray array, int index)
    {
        if (array.IsNull(index)) return null;
        return array switch
        {
            TimestampArray ts => ToNanoseconds(ts.GetValue(index)!.Value, ((TimestampType)ts.Data.DataType).Unit),
            DurationArray du => ToNanoseconds(du.GetValue(index)!.Value, ((DurationType)du.Data.DataType).Unit),
            Int64Array l => l.GetValue(index),
            Int32Array i => i.GetValue(index),
            UInt64Array ul => ul.GetValue(index),
            DoubleArray d => d.GetValue(index),
            BooleanArray b => b.GetValue(index),
            StringArray s => s.GetString(index),
            BinaryArray bin => bin.GetBytes(index).ToArray(),
            _ => null,
        };
    }

    private static long ToNanoseconds(long value, TimeUnit unit) => unit switch
    {
        TimeUnit.Second => value * 1_000_000_000L,
        TimeUnit.Millisecond => value * 1_000_000L,
        TimeUnit.Microsecond => value * 1_000L,
        _ => value,
    };
}
