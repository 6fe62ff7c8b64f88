namespace TrafficStore.Engine.Query;

/// <summary>Comparison of a column with a value; nulls never match any operator.</summary>
public enum FilterOp
{
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// <summary>utf8/binary starts with the value.</summary>
    Prefix,
    /// <summary>Equal to one of <see cref="ColumnFilter.Values"/>.</summary>
    In,
    /// <summary>At least one of <see cref="ColumnFilter.Any"/> holds (an OR group inside the AND list); <see cref="ColumnFilter.Column"/> is unused.</summary>
    AnyOf,
}

/// <summary>
/// <c>column op value</c>. Values: long/int for int64; <see cref="DateTimeOffset"/>, <see cref="DateTime"/> (UTC) or
/// long ns for timestamps; <see cref="TimeSpan"/> or long ns for durations; double (or any number) for double;
/// string for utf8; byte[] for binary; bool for bool.
/// </summary>
public sealed record ColumnFilter(string Column, FilterOp Op, object? Value, IReadOnlyList<object>? Values = null)
{
    /// <summary>The alternatives of an <see cref="FilterOp.AnyOf"/> group.</summary>
    public IReadOnlyList<ColumnFilter>? Any { get; init; }

    public static ColumnFilter Eq(string column, object value) => new(column, FilterOp.Eq, value);
    public static ColumnFilter NotEq(string column, object value) => new(column, FilterOp.NotEq, value);
    public static ColumnFilter Lt(string column, object value) => new(column, FilterOp.Lt, value);
    public static ColumnFilter Le(string column, object value) => new(column, FilterOp.Le, value);
    public static ColumnFilter Gt(string column, object value) => new(column, FilterOp.Gt, value);
    public static ColumnFilter Ge(string column, object value) => new(column, FilterOp.Ge, value);
    public static ColumnFilter Prefix(string column, string prefix) => new(column, FilterOp.Prefix, prefix);
    public static ColumnFilter In(string column, params object[] values) => new(column, FilterOp.In, null, values);

    /// <summary>
    /// Rows where at least one of <paramref name="alternatives"/> holds, e.g. the client or the server
    /// namespace equals "shop". Groups do not narrow through the index (zone maps still apply: a row
    /// group is skipped only when no alternative may match).
    /// </summary>
    public static ColumnFilter AnyOf(params ColumnFilter[] alternatives)
    {
        ArgumentNullException.ThrowIfNull(alternatives);
        if (alternatives.Length == 0) throw new ArgumentException("AnyOf needs at least one alternative.", nameof(alternatives));
        return new ColumnFilter("", FilterOp.AnyOf, null) { Any = alternatives };
    }
}

/// <summary>
/// A query over one table. Time bounds are ns since the Unix epoch on the table's time column:
/// <c>[From, To)</c>. <see cref="AsOf"/> selects rows whose interval [time, end] contains the instant
/// (a null end counts as still open); for tables without an end column it selects time &lt;= AsOf.
/// </summary>
public sealed record QuerySpec(string Table)
{
    public long? From { get; init; }
    public long? To { get; init; }
    public long? AsOf { get; init; }
    public IReadOnlyList<ColumnFilter> Filters { get; init; } = [];
    /// <summary>Columns to return, in this order; null returns every column of the current schema.</summary>
    public IReadOnlyList<string>? Columns { get; init; }
    public long? Limit { get; init; }
    /// <summary>Return rows in ascending time order: partition by partition, merging the time-sorted row groups of its segments, so memory stays bounded by one decoded row group per overlapping segment (docs/engine.md, Queries).</summary>
    public bool OrderByTime { get; init; }
    /// <summary>With <see cref="OrderByTime"/>: newest first (partitions read from the newest, so a limit stops early).</summary>
    public bool Descending { get; init; }
    /// <summary>Include rows acknowledged but not yet sealed into segments.</summary>
    public bool IncludeUnsealed { get; init; } = true;
    /// <summary>Throw <see cref="Segments.SegmentCorruptException"/> instead of skipping a corrupt segment with a warning.</summary>
    public bool FailOnCorruption { get; init; }
    /// <summary>Upper bound on rows per returned batch.</summary>
    public int MaxBatchRows { get; init; } = 65536;
    /// <summary>
    /// Upper bound on a returned batch's data bytes (8 per fixed-width value plus string/binary bytes), so each
    /// batch fits a gRPC message (4 MiB by default) when served over Flight. A single larger row is returned alone.
    /// </summary>
    public long MaxBatchBytes { get; init; } = 3L << 20;

    public static long ToNs(DateTimeOffset instant) => (instant.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
    public static DateTimeOffset FromNs(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);

    public QuerySpec Between(DateTimeOffset from, DateTimeOffset to) => this with { From = ToNs(from), To = ToNs(to) };
    public QuerySpec AsOfInstant(DateTimeOffset instant) => this with { AsOf = ToNs(instant) };
    public QuerySpec Where(params ColumnFilter[] filters) => this with { Filters = [.. Filters, .. filters] };
    public QuerySpec Select(params string[] columns) => this with { Columns = columns };
}
