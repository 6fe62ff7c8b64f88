namespace TrafficStore.Store.Query;

/// <summary>Rules shared by both query forms (operators, shape checks).</summary>
public static class QueryRules
{
    public const int MaxLimit = 10_000_000;

    public static FilterOp ParseOp(string op) => op.Trim().ToLowerInvariant() switch
    {
        "=" or "==" or "eq" => FilterOp.Equal,
        "!=" or "<>" or "ne" => FilterOp.NotEqual,
        "<" or "lt" => FilterOp.Less,
        "<=" or "le" => FilterOp.LessOrEqual,
        ">" or "gt" => FilterOp.Greater,
        ">=" or "ge" => FilterOp.GreaterOrEqual,
        "^=" or "prefix" or "starts_with" => FilterOp.Prefix,
        "in" => FilterOp.In,
        _ => throw new QueryException($"unknown operator '{op}' (use =, !=, <, <=, >, >=, ^= (prefix) or in)"),
    };

    public static string OpText(FilterOp op) => op switch
    {
        FilterOp.Equal => "=",
        FilterOp.NotEqual => "!=",
        FilterOp.Less => "<",
        FilterOp.LessOrEqual => "<=",
        FilterOp.Greater => ">",
        FilterOp.GreaterOrEqual => ">=",
        FilterOp.Prefix => "^=",
        FilterOp.In => "in",
        _ => "?",
    };

    /// <summary>Checks what does not depend on the table's schema.</summary>
    public static TrafficQuery CheckShape(TrafficQuery q)
    {
        if (q.AsOfNs is not null && (q.FromNs is not null || q.ToNs is not null))
            throw new QueryException("use either a time range (from/to) or as_of, not both");
        if (q.FromNs is { } f && q.ToNs is { } t && t < f)
            throw new QueryException("the time range ends before it starts (to < from)");
        if (q.Limit is > MaxLimit)
            throw new QueryException($"limit {q.Limit} is above the maximum {MaxLimit}");
        foreach (var filter in q.Filters)
        {
            if (string.IsNullOrWhiteSpace(filter.Field)) throw new QueryException("a condition has an empty field name");
        }
        return q;
    }
}
