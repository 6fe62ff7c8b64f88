using Apache.Arrow;

namespace TrafficStore.Engine.Catalog;

/// <summary>
/// What a caller registers for a table: its name, Arrow schema, the timestamp column that
/// partitions rows, and optional interval end, indexed columns and namespace column.
/// </summary>
/// <param name="Name">Lowercase letters, digits and '_' (it names a folder).</param>
/// <param name="Schema">Columns of type int64, double, utf8, bool, timestamp[ns, UTC], duration[ns] or binary.</param>
/// <param name="TimeColumn">A timestamp[ns] column: the instant that places a row in a time partition.</param>
public sealed record TableSpec(string Name, Schema Schema, string TimeColumn)
{
    /// <summary>A timestamp[ns] column ending the row's interval [time, end]; as-of queries use it. A null end means "still open".</summary>
    public string? EndTimeColumn { get; init; }

    /// <summary>utf8 or int64 columns to index (namespace, pod, ip, connection_id...): equality and in-list filters on them read only matching segments and row groups.</summary>
    public IReadOnlyList<string> IndexedColumns { get; init; } = [];

    /// <summary>The utf8 column that per-namespace retention policies look at.</summary>
    public string? NamespaceColumn { get; init; }
}
