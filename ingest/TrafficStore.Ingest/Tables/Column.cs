using System.Globalization;

namespace TrafficStore.Ingest.Tables;

/// <summary>The value kinds a table column can hold; each maps to one Arrow type.</summary>
public enum ColumnKind : byte
{
    /// <summary>64-bit signed integer (Arrow int64).</summary>
    Int64,
    /// <summary>64-bit float (Arrow double).</summary>
    Double,
    /// <summary>UTF-8 text (Arrow utf8).</summary>
    String,
    /// <summary>Arrow bool.</summary>
    Boolean,
    /// <summary>Instant, ns since the Unix epoch (Arrow timestamp[ns, UTC]); CSV: epoch seconds with 9 decimals.</summary>
    TimestampNs,
    /// <summary>Duration in ns (Arrow duration[ns]); CSV: seconds with 9 decimals.</summary>
    DurationNs,
    /// <summary>Opaque bytes (Arrow binary); CSV: lowercase hex.</summary>
    Binary,
}

/// <summary>
/// One column of a table of <typeparamref name="T"/> rows: a name (public API, snake_case), a
/// kind, a description, and a typed getter. Defined once and used by every output: CSV, JSON,
/// console tables and Arrow record batches.
/// </summary>
public sealed class Column<T>
{
    private readonly Func<T, long?>? _int64;
    private readonly Func<T, double?>? _double;
    private readonly Func<T, string?>? _string;
    private readonly Func<T, bool?>? _boolean;
    private readonly Func<T, ReadOnlyMemory<byte>?>? _binary;

    private Column(string name, ColumnKind kind, string description,
        Func<T, long?>? int64 = null, Func<T, double?>? dbl = null, Func<T, string?>? str = null,
        Func<T, bool?>? boolean = null, Func<T, ReadOnlyMemory<byte>?>? binary = null)
    {
        Name = name;
        Kind = kind;
        Description = description;
        _int64 = int64;
        _double = dbl;
        _string = str;
        _boolean = boolean;
        _binary = binary;
    }

    public string Name { get; }
    public ColumnKind Kind { get; }
    public string Description { get; }

    public static Column<T> Int64(string name, Func<T, long?> get, string description) => new(name, ColumnKind.Int64, description, int64: get);
    public static Column<T> Double(string name, Func<T, double?> get, string description) => new(name, ColumnKind.Double, description, dbl: get);
    public static Column<T> String(string name, Func<T, string?> get, string description) => new(name, ColumnKind.String, description, str: get);
    public static Column<T> Boolean(string name, Func<T, bool?> get, string description) => new(name, ColumnKind.Boolean, description, boolean: get);
    public static Column<T> Timestamp(string name, Func<T, long?> getNs, string description) => new(name, ColumnKind.TimestampNs, description, int64: getNs);
    public static Column<T> Duration(string name, Func<T, long?> getNs, string description) => new(name, ColumnKind.DurationNs, description, int64: getNs);
    public static Column<T> Binary(string name, Func<T, ReadOnlyMemory<byte>?> get, string description) => new(name, ColumnKind.Binary, description, binary: get);

    public long? GetInt64(T row) => _int64!(row);
    public double? GetDouble(T row) => _double!(row);
    public string? GetString(T row) => _string!(row);
    public bool? GetBoolean(T row) => _boolean!(row);
    public ReadOnlyMemory<byte>? GetBinary(T row) => _binary!(row);

    /// <summary>The value boxed, for JSON and console output (not for hot paths).</summary>
    public object? GetValue(T row) => Kind switch
    {
        ColumnKind.Int64 or ColumnKind.TimestampNs or ColumnKind.DurationNs => _int64!(row),
        ColumnKind.Double => _double!(row),
        ColumnKind.String => _string!(row),
        ColumnKind.Boolean => _boolean!(row),
        ColumnKind.Binary => _binary!(row),
        _ => null,
    };

    /// <summary>The value as the CSV outputs print it (empty for null), matching tshark-oracle conventions.</summary>
    public string FormatText(T row)
    {
        switch (Kind)
        {
            case ColumnKind.Int64:
                return _int64!(row) is { } l ? l.ToString(CultureInfo.InvariantCulture) : "";
            case ColumnKind.TimestampNs:
            case ColumnKind.DurationNs:
                return _int64!(row) is { } ns ? FormatSeconds(ns) : "";
            case ColumnKind.Double:
                return _double!(row) is { } d ? d.ToString("R", CultureInfo.InvariantCulture) : "";
            case ColumnKind.String:
                return _string!(row) ?? "";
            case ColumnKind.Boolean:
                return _boolean!(row) is { } b ? (b ? "1" : "0") : "";
            case ColumnKind.Binary:
                return _binary!(row) is { } m ? Convert.ToHexStringLower(m.Span) : "";
            default:
                return "";
        }
    }

    /// <summary>Nanoseconds as seconds with exactly 9 decimals ("1362692526.869344000"), exact for any long.</summary>
    public static string FormatSeconds(long ns)
    {
        long seconds = Math.DivRem(ns, 1_000_000_000L, out long fraction);
        if (fraction < 0)
        {
            // -0.5 s is "-0.500000000"; -1.5 s is "-1.500000000"
            return "-" + FormatSeconds(-ns);
        }
        return string.Create(CultureInfo.InvariantCulture, $"{seconds}.{fraction:D9}");
    }
}
