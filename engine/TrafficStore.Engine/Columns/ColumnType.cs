using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Engine.Columns;

/// <summary>The column types the engine stores; each maps to exactly one Arrow type.</summary>
public enum ColumnType : byte
{
    /// <summary>Arrow int64.</summary>
    Int64 = 1,
    /// <summary>Arrow double.</summary>
    Double = 2,
    /// <summary>Arrow utf8.</summary>
    Utf8 = 3,
    /// <summary>Arrow bool.</summary>
    Bool = 4,
    /// <summary>Arrow timestamp[ns, UTC]; values are ns since the Unix epoch.</summary>
    TimestampNs = 5,
    /// <summary>Arrow duration[ns].</summary>
    DurationNs = 6,
    /// <summary>Arrow binary.</summary>
    Binary = 7,
}

/// <summary>Maps between Arrow types and <see cref="ColumnType"/>.</summary>
public static class ColumnTypes
{
    public static readonly TimestampType TimestampNsUtc = new(TimeUnit.Nanosecond, "UTC");

    /// <summary>The engine type for an Arrow type, or throws for a type the engine does not store.</summary>
    public static ColumnType FromArrow(IArrowType type) => type switch
    {
        Int64Type => ColumnType.Int64,
        DoubleType => ColumnType.Double,
        StringType => ColumnType.Utf8,
        BooleanType => ColumnType.Bool,
        TimestampType t when t.Unit == TimeUnit.Nanosecond => ColumnType.TimestampNs,
        DurationType d when d.Unit == TimeUnit.Nanosecond => ColumnType.DurationNs,
        BinaryType => ColumnType.Binary,
        _ => throw new NotSupportedException($"Arrow type {type.Name} is not supported by the storage engine (supported: int64, double, utf8, bool, timestamp[ns], duration[ns], binary)."),
    };

    public static IArrowType ToArrow(ColumnType type) => type switch
    {
        ColumnType.Int64 => Int64Type.Default,
        ColumnType.Double => DoubleType.Default,
        ColumnType.Utf8 => StringType.Default,
        ColumnType.Bool => BooleanType.Default,
        ColumnType.TimestampNs => TimestampNsUtc,
        ColumnType.DurationNs => DurationType.Nanosecond,
        ColumnType.Binary => BinaryType.Default,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Types whose values live in the 64-bit integer lane of a <see cref="ColumnVector"/>.</summary>
    public static bool IsInteger(ColumnType type) =>
        type is ColumnType.Int64 or ColumnType.TimestampNs or ColumnType.DurationNs or ColumnType.Bool;

    /// <summary>Types whose values are variable-length bytes.</summary>
    public static bool IsBytes(ColumnType type) => type is ColumnType.Utf8 or ColumnType.Binary;

    public static string Name(ColumnType type) => type switch
    {
        ColumnType.Int64 => "int64",
        ColumnType.Double => "double",
        ColumnType.Utf8 => "utf8",
        ColumnType.Bool => "bool",
        ColumnType.TimestampNs => "timestamp[ns, UTC]",
        ColumnType.DurationNs => "duration[ns]",
        ColumnType.Binary => "binary",
        _ => "unknown",
    };
}
