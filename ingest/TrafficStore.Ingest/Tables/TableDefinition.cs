namespace TrafficStore.Ingest.Tables;

/// <summary>
/// A named, versioned table of <typeparamref name="T"/> rows. The column names are public API
/// (CSV headers, JSON keys, Arrow field names), documented in docs/tables.md.
/// </summary>
public sealed class TableDefinition<T>
{
    public TableDefinition(string name, int version, IReadOnlyList<Column<T>> columns)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in columns)
        {
            if (!seen.Add(c.Name)) throw new ArgumentException($"Table {name} defines column {c.Name} twice.", nameof(columns));
        }
        Name = name;
        Version = version;
        Columns = columns;
    }

    public string Name { get; }
    public int Version { get; }
    public IReadOnlyList<Column<T>> Columns { get; }

    public Column<T> this[string name] => Columns.FirstOrDefault(c => c.Name == name)
        ?? throw new KeyNotFoundException($"Table {Name} has no column {name}.");
}
