using System.Text;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Store.Tables;

/// <summary>
/// Renders the column reference of docs/tables.md from <see cref="TrafficTables.All"/>, so the document
/// cannot drift from the definitions (a test compares them). The prose above the generated marker is kept.
/// </summary>
public static class TablesDocument
{
    public const string Marker = "<!-- generated from TrafficTables: do not edit below; see TablesDocumentTests -->";

    public static string RenderColumns()
    {
        var sb = new StringBuilder();
        sb.Append(Marker).Append('\n');
        foreach (var t in TrafficTables.All)
        {
            sb.Append('\n').Append("## `").Append(t.Name).Append("`\n\n").Append(t.Description).Append('\n').Append('\n');
            sb.Append("time column `").Append(t.Spec.TimeColumn).Append('`');
            if (t.Spec.EndTimeColumn is { } end) sb.Append(", end column `").Append(end).Append("` (as-of queries)");
            sb.Append("; indexed: ").Append(string.Join(", ", t.Spec.IndexedColumns.Select(c => $"`{c}`")));
            if (t.Spec.NamespaceColumn is { } ns) sb.Append("; per-namespace retention on `").Append(ns).Append('`');
            sb.Append(".\n\n| column | type | meaning |\n|---|---|---|\n");
            foreach (var c in t.Columns)
                sb.Append("| `").Append(c.Name).Append("` | ").Append(TypeName(c.Kind)).Append(" | ").Append(c.Description.Replace("|", "\\|")).Append(" |\n");
        }
        return sb.ToString();
    }

    private static string TypeName(ColumnKind kind) => kind switch
    {
        ColumnKind.Int64 => "int64",
        ColumnKind.Double => "double",
        ColumnKind.String => "utf8",
        ColumnKind.Boolean => "bool",
        ColumnKind.TimestampNs => "timestamp[ns, UTC]",
        ColumnKind.DurationNs => "duration[ns]",
        ColumnKind.Binary => "binary",
        _ => kind.ToString(),
    };
}
