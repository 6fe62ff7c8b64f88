using System.Globalization;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;
using EngineFilter = TrafficStore.Engine.Query.ColumnFilter;
using QuerySpec = TrafficStore.Engine.Query.QuerySpec;

namespace TrafficStore.Store.Query;

/// <summary>An order on a non-time column, applied after the engine read (<see cref="TopRowsByColumn"/>).</summary>
public sealed record ColumnOrder(string Column, bool Descending, int Limit);

/// <summary>
/// Turns a <see cref="TrafficQuery"/> into the engine's <see cref="QuerySpec"/> for one table of
/// <see cref="TrafficTables"/>: checks the table, the columns and the values, and expands the logical
/// fields of docs/query-language.md (<see cref="LogicalField.All"/>). Identity fields (namespace, pod,
/// service, workload, node), ip and port hold when EITHER end matches (an engine OR group); with != they
/// hold when NEITHER end equals the value (the negation of "=").
/// </summary>
public static class QueryTranslator
{
    /// <summary>The logical fields (not columns) the query language accepts: the names of <see cref="LogicalField.All"/>.</summary>
    public static IReadOnlyList<string> LogicalFields { get; } = [.. LogicalField.All.Select(f => f.Name)];

    public static QuerySpec Translate(TrafficQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        QueryRules.CheckShape(query);
        if (!TrafficTables.TryGet(query.Table, out var table))
            throw new QueryException($"unknown table '{query.Table}' (tables: {string.Join(", ", TrafficTables.Names)})");

        var columnOrder = ColumnOrderOf(query);
        if (query.Select is { } select)
        {
            if (select.Count == 0) throw new QueryException("select names no column");
            foreach (var c in select) Column(table, c, "select");
        }

        var filters = query.Filters.SelectMany(f => Filter(table, f)).ToArray();
        return new QuerySpec(table.Name)
        {
            From = query.FromNs,
            To = query.ToNs,
            AsOf = query.AsOfNs,
            Filters = filters,
            // A non-time order reads every matching row in time order, with the order column, and
            // TopRowsByColumn keeps the first `limit` of them.
            Columns = columnOrder is null || query.Select is null || query.Select.Contains(columnOrder.Column) ? query.Select : [.. query.Select, columnOrder.Column],
            Limit = columnOrder is null ? query.Limit : null,
            OrderByTime = true,
            Descending = columnOrder is null && query.OrderBy is not null && query.Descending,
        };
    }

    /// <summary>
    /// The query's order when it is on a column other than the table's time column (which the engine
    /// reads in order itself), checked: a known, orderable column and a limit of at most
    /// <see cref="TopRowsByColumn.MaxLimit"/>, since the kept rows are held in memory.
    /// </summary>
    public static ColumnOrder? ColumnOrderOf(TrafficQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.OrderBy is not { } order || !TrafficTables.TryGet(query.Table, out var table) || order == table.Spec.TimeColumn) return null;
        var column = Column(table, order, "order by");
        if (column.Kind == ColumnKind.Binary)
            throw new QueryException($"cannot order by '{order}': it holds bytes");
        if (query.Limit is not int limit)
            throw new QueryException($"order by '{order}' needs a limit (at most {TopRowsByColumn.MaxLimit}): only the time column '{table.Spec.TimeColumn}' is ordered without one");
        if (limit > TopRowsByColumn.MaxLimit)
            throw new QueryException($"order by '{order}' takes a limit of at most {TopRowsByColumn.MaxLimit} (asked: {limit}); order by '{table.Spec.TimeColumn}' has no such bound");
        return new ColumnOrder(order, query.Descending, limit);
    }

    private static StoreColumn Column(StoreTable table, string name, string where) =>
        table.Columns.FirstOrDefault(c => c.Name == name)
        ?? throw new QueryException($"unknown column '{name}' in {where} of table '{table.Name}'" +
                                    ColumnSuggestions.DidYouMean(name, where == "where" ? WhereFieldsOf(table) : table.Columns.Select(c => c.Name)));

    /// <summary>
    /// The names a where clause can use on <paramref name="table"/>: its columns, then the logical fields
    /// whose columns it has. Unknown-column suggestions for a where clause come from this list.
    /// </summary>
    public static IReadOnlyList<string> WhereFieldsOf(StoreTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        return [.. table.Columns.Select(c => c.Name), .. LogicalField.All.Where(f => f.IsAvailableOn(table)).Select(f => f.Name)];
    }

    private static IEnumerable<EngineFilter> Filter(StoreTable table, QueryFilter f)
    {
        if (!LogicalField.TryGet(f.Field, out var field)) return [Plain(table, Column(table, f.Field, "where"), f)];
        // A table without the field's columns may have a column of that name (capture_stats.node, the
        // capturing node): "any column of the table" holds there, as the suggestions promise.
        if (!field.IsAvailableOn(table) && table.HasColumn(f.Field)) return [Plain(table, Column(table, f.Field, "where"), f)];
        if (field.Condition is { } check) f = check(f);
        if (!field.TryResolve(table, out var columns, out string missing))
            throw new QueryException($"field '{field.Name}' is not available on table '{table.Name}' (it has no {missing} column)");
        if (field.Shape == LogicalFieldShape.FirstOf) return [Plain(table, columns[0], f)];
        var a = Plain(table, columns[0], f);
        var b = Plain(table, columns[1], f);
        // "x != v" is the negation of "either end = v": neither end equals v (both filters, ANDed).
        return f.Op == FilterOp.NotEqual ? [a, b] : [EngineFilter.AnyOf(a, b)];
    }

    private static EngineFilter Plain(StoreTable table, StoreColumn column, QueryFilter f)
    {
        if (f.Values.Count == 0) throw new QueryException($"condition on '{f.Field}' has no value");
        if (column.Kind == ColumnKind.Binary) throw new QueryException($"column '{column.Name}' holds bytes and cannot be compared");
        if (f.Op == FilterOp.Prefix && column.Kind != ColumnKind.String)
            throw new QueryException($"^= (starts with) needs a text column; '{column.Name}' is {Describe(column.Kind)}");
        if (f.Op == FilterOp.In)
            return EngineFilter.In(column.Name, f.Values.Select(v => Value(column, f.Field, v)).ToArray());
        var value = Value(column, f.Field, f.Value);
        return f.Op switch
        {
            FilterOp.Equal => EngineFilter.Eq(column.Name, value),
            FilterOp.NotEqual => EngineFilter.NotEq(column.Name, value),
            FilterOp.Less => EngineFilter.Lt(column.Name, value),
            FilterOp.LessOrEqual => EngineFilter.Le(column.Name, value),
            FilterOp.Greater => EngineFilter.Gt(column.Name, value),
            FilterOp.GreaterOrEqual => EngineFilter.Ge(column.Name, value),
            FilterOp.Prefix => EngineFilter.Prefix(column.Name, (string)value),
            _ => throw new QueryException($"operator {QueryRules.OpText(f.Op)} is not supported on '{f.Field}'"),
        };
    }

    private static object Value(StoreColumn column, string field, QueryValue v)
    {
        switch (column.Kind)
        {
            case ColumnKind.String:
                return v.Text;
            case ColumnKind.Int64:
                if (long.TryParse(v.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return l;
                throw new QueryException($"'{v.Text}' is not an integer ({field} is {Describe(column.Kind)})");
            case ColumnKind.Double:
                if (v.Number is double d) return d;
                throw new QueryException($"'{v.Text}' is not a number ({field} is {Describe(column.Kind)})");
            case ColumnKind.Boolean:
                return v.Text.ToLowerInvariant() switch
                {
                    "true" or "1" or "yes" => true,
                    "false" or "0" or "no" => false,
                    _ => throw new QueryException($"'{v.Text}' is not true or false ({field} is a boolean)"),
                };
            case ColumnKind.TimestampNs:
                return QueryTime.Parse(v.Text, QueryTime.NowNs());
            case ColumnKind.DurationNs:
                if (v.Number is not double seconds) throw new QueryException($"'{v.Text}' is not a number of seconds ({field} is a duration)");
                // NaN, infinities and |seconds| beyond ~292 years do not fit 64-bit nanoseconds.
                double ns = Math.Round(seconds * 1e9);
                if (!(ns > long.MinValue && ns < long.MaxValue))
                    throw new QueryException($"'{v.Text}' is out of range for {field} (a duration in seconds, at most about 9.2e9)");
                return (long)ns;
            default:
                throw new QueryException($"column '{column.Name}' cannot be compared");
        }
    }

    private static string Describe(ColumnKind kind) => kind switch
    {
        ColumnKind.Int64 => "an integer",
        ColumnKind.Double => "a number",
        ColumnKind.String => "text",
        ColumnKind.Boolean => "a boolean",
        ColumnKind.TimestampNs => "a timestamp",
        ColumnKind.DurationNs => "a duration (seconds)",
        _ => "bytes",
    };
}

/// <summary>Either query form (docs/query-language.md): JSON when it starts with '{', else text.</summary>
public static class QueryParser
{
    public static TrafficQuery Parse(string query, long? nowNs = null)
    {
        ArgumentNullException.ThrowIfNull(query);
        long now = nowNs ?? QueryTime.NowNs();
        var trimmed = query.TrimStart();
        return trimmed.StartsWith('{') ? JsonQueryParser.Parse(trimmed, now) : TextQueryParser.Parse(trimmed, now);
    }
}
