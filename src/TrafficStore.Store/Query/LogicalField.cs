using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Query;

/// <summary>How a logical field's condition becomes column conditions.</summary>
public enum LogicalFieldShape
{
    /// <summary>
    /// Two columns, the client's and the server's end: "=" (and the other comparisons) holds when
    /// EITHER end matches (an engine OR group); "!=" holds when NEITHER end equals the value.
    /// </summary>
    EitherEnd,

    /// <summary>One column: the first of <see cref="LogicalField.Columns"/> the table has (tables name some things differently).</summary>
    FirstOf,
}

/// <summary>
/// A field of the query language that is not a column (docs/query-language.md): a name for one or two
/// columns, with an optional check or rewrite of the condition. <see cref="All"/> is the one list of
/// them: the translator expands exactly these, and an unknown column's "did you mean" suggests exactly
/// those of them a table can use (<see cref="TryResolve"/>), so the two cannot disagree.
/// </summary>
public sealed record LogicalField(string Name, LogicalFieldShape Shape, IReadOnlyList<string> Columns)
{
    private static readonly string[] HealthClasses = ["healthy", "degraded", "severe"];

    /// <summary>
    /// Checks (and may rewrite) a condition on this field before its columns are looked up, so a misuse
    /// is reported as such even on a table without the columns. Null: any condition the columns take.
    /// </summary>
    public Func<QueryFilter, QueryFilter>? Condition { get; init; }

    /// <summary>Every logical field, in the order docs/query-language.md lists them.</summary>
    public static IReadOnlyList<LogicalField> All { get; } =
    [
        .. new[] { "namespace", "pod", "service", "workload", "node", "ip", "port" }
            .Select(f => new LogicalField(f, LogicalFieldShape.EitherEnd, [$"client_{f}", $"server_{f}"])),
        new("connection", LogicalFieldShape.FirstOf, ["connection_id"]),
        // connections calls it protocol; the L7 tables call it proto.
        new("protocol", LogicalFieldShape.FirstOf, ["protocol", "proto"]),
        new("path_prefix", LogicalFieldShape.FirstOf, ["uri"])
        {
            Condition = f => f.Op is FilterOp.Equal or FilterOp.Prefix
                ? f with { Op = FilterOp.Prefix }
                : throw new QueryException($"path_prefix takes = (or ^=), not {QueryRules.OpText(f.Op)}"),
        },
        new("health", LogicalFieldShape.FirstOf, ["health"])
        {
            Condition = f =>
            {
                foreach (var v in f.Values)
                    if (!HealthClasses.Contains(v.Text))
                        throw new QueryException($"health '{v.Text}' is not one of {string.Join(", ", HealthClasses)}");
                return f;
            },
        },
    ];

    private static readonly Dictionary<string, LogicalField> ByName = All.ToDictionary(f => f.Name, StringComparer.Ordinal);

    /// <summary>The logical field named <paramref name="name"/> (case-sensitive, like column names).</summary>
    public static bool TryGet(string name, out LogicalField field) => ByName.TryGetValue(name, out field!);

    /// <summary>
    /// The columns this field reads on <paramref name="table"/> (both ends, or the one column), or false
    /// with the column whose absence makes the field unavailable there.
    /// </summary>
    public bool TryResolve(StoreTable table, out IReadOnlyList<StoreColumn> columns, out string missing)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (Shape == LogicalFieldShape.EitherEnd)
        {
            var found = new StoreColumn[Columns.Count];
            for (int i = 0; i < Columns.Count; i++)
            {
                if (Find(table, Columns[i]) is not { } c) { columns = []; missing = Columns[i]; return false; }
                found[i] = c;
            }
            columns = found;
            missing = "";
            return true;
        }
        foreach (var name in Columns)
        {
            if (Find(table, name) is { } c) { columns = [c]; missing = ""; return true; }
        }
        // Name the last choice (for protocol: "proto", the L7 tables' name).
        columns = [];
        missing = Columns[^1];
        return false;
    }

    /// <summary>Whether <paramref name="table"/> has the columns this field needs.</summary>
    public bool IsAvailableOn(StoreTable table) => TryResolve(table, out _, out _);

    private static StoreColumn? Find(StoreTable table, string name) => table.Columns.FirstOrDefault(c => c.Name == name);
}
