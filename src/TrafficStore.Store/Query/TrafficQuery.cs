namespace TrafficStore.Store.Query;

/// <summary>Comparison operators of the query language.</summary>
public enum FilterOp : byte
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    /// <summary>String prefix (path_prefix, "^=" in the text form).</summary>
    Prefix,
    /// <summary>Any of a list of values.</summary>
    In,
}

/// <summary>One condition: a field of the query language (not necessarily a single column), an operator and values.</summary>
public sealed record QueryFilter(string Field, FilterOp Op, IReadOnlyList<QueryValue> Values)
{
    public QueryValue Value => Values[0];
}

/// <summary>A literal: text or a number (kept as both so the field decides).</summary>
public readonly record struct QueryValue(string Text, double? Number)
{
    public static QueryValue Of(string text) => new(text, double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : null);
    public override string ToString() => Text;
}

/// <summary>
/// A parsed query, version 1 of the query language (docs/query-language.md): a table, a time
/// window or an as-of instant, filters (all must hold), projection, order and limit.
/// Times are absolute nanoseconds since the Unix epoch, resolved at parse time.
/// </summary>
public sealed record TrafficQuery
{
    public const int CurrentVersion = 1;

    public required string Table { get; init; }
    public long? FromNs { get; init; }
    public long? ToNs { get; init; }
    public long? AsOfNs { get; init; }
    public IReadOnlyList<QueryFilter> Filters { get; init; } = Array.Empty<QueryFilter>();
    public IReadOnlyList<string>? Select { get; init; }
    public string? OrderBy { get; init; }
    public bool Descending { get; init; }
    public int? Limit { get; init; }
}

/// <summary>A query that cannot be run; the message says what is wrong (Flight InvalidArgument).</summary>
public sealed class QueryException : Exception
{
    public QueryException(string message) : base(message) { }
}
