using System.Globalization;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;
using EngineFilter = TrafficStore.Engine.Query.ColumnFilter;
using QuerySpec = TrafficStore.Engine.Query.QuerySpec;

namespace TrafficStore.Store.Query;

/// <summary>
/// Turns a <see cref="TrafficQuery"/> into the engine's <see cref="QuerySpec"/> for one table of
/// <see cref="TrafficTables"/>: checks the table, the columns and the values, and expands the logical
/// fields of docs/query-language.md. Identity fields (namespace, pod, service, workload, node), ip and
/// port hold when EITHER end matches (an engine OR group); with != they hold when NEITHER end equals
/// the value (the negation of "=").
/// </summary>
/// <summary>An order on a non-time column, applied after the engine read (<see cref="TopRowsByColumn"/>).</summary>
public sealed record ColumnOrder(string Column, bool Descending, int Limit);

public static class QueryTranslator
{
    private static readonly string[] IdentityFields = ["namespace", "pod", "service", "workload", "node"];
    private static readonly string[] HealthClasses = ["healthy", "degraded", "severe"];

    /// <summary>The logical fields (not columns) the query language accepts.</summary>
    public static IReadOnlyList<string> LogicalFields { get; } = [.. IdentityFields, "ip", "port", "connection", "protocol", "path_prefix", "health"];

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
                                    ColumnSuggestions.DidYouMean(name, where == "where" ? [.. table.Columns.Select(c => c.Name), .. LogicalFieldsOf(table)] : table.Columns.Select(c => c.Name)));

    /// <summary>The logical fields a where clause can use on <paramref name="table"/> (those whose columns it has).</summary>
    private static IEnumerable<string> LogicalFieldsOf(StoreTable table)
    {
        foreach (var f in IdentityFields) if (table.HasColumn($"client_{f}")) yield return f;
        if (table.HasColumn("client_ip")) yield return "ip";
        if (table.HasColumn("client_port")) yield return "port";
        if (table.HasColumn("connection_id")) yield return "connection";
        if (table.HasColumn("protocol") || table.HasColumn("proto")) yield return "protocol";
        if (table.HasColumn("uri")) yield return "path_prefix";
        if (table.HasColumn("health")) yield return "health";
    }

    private static IEnumerable<EngineFilter> Filter(StoreTable table, QueryFilter f)
    {
        string field = f.Field;
        if (IdentityFields.Contains(field)) return EitherEnd(table, field, $"client_{field}", $"server_{field}", f);
        switch (field)
        {
            case "ip": return EitherEnd(table, field, "client_ip", "server_ip", f);
            case "port": return EitherEnd(table, field, "client_port", "server_port", f);
            case "connection": return [Plain(table, Need(table, field, "connection_id"), f)];
            case "protocol": return [Plain(table, Need(table, field, table.HasColumn("protocol") ? "protocol" : "proto"), f)];
            case "path_prefix":
                if (f.Op != FilterOp.Equal && f.Op != FilterOp.Prefix)
                    throw new QueryException($"path_prefix takes = (or ^=), not {QueryRules.OpText(f.Op)}");
                return [Plain(table, Need(table, field, "uri"), f with { Op = FilterOp.Prefix })];
            case "health":
                foreach (var v in f.Values)
                    if (!HealthClasses.Contains(v.Text))
                        throw new QueryException($"health '{v.Text}' is not one of {string.Join(", ", HealthClasses)}");
                return [Plain(table, Need(table, field, "health"), f)];
        }
        return [Plain(table, Column(table, field, "where"), f)];
    }

    private static StoreColumn Need(StoreTable table, string field, string column) =>
        table.Columns.FirstOrDefault(c => c.Name == column)
        ?? throw new QueryException($"field '{field}' is not available on table '{table.Name}' (it has no {column} column)");

    private static IEnumerable<EngineFilter> EitherEnd(StoreTable table, string field, string client, string server, QueryFilter f)
    {
        var a = Plain(table, Need(table, field, client), f);
        var b = Plain(table, Need(table, field, server), f);
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
