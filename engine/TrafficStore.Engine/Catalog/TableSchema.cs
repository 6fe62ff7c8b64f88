using Apache.Arrow;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Catalog;

/// <summary>One column of a stored table.</summary>
public sealed record ColumnDefinition(string Name, ColumnType Type);

/// <summary>One version of a table's columns. Later versions only add columns.</summary>
internal sealed class TableSchema
{
    private readonly Dictionary<string, int> _byName;

    public TableSchema(int version, IReadOnlyList<ColumnDefinition> columns)
    {
        Version = version;
        Columns = columns;
        _byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Count; i++)
            if (!_byName.TryAdd(columns[i].Name, i)) throw new ArgumentException($"Duplicate column '{columns[i].Name}'.");
    }

    public int Version { get; }
    public IReadOnlyList<ColumnDefinition> Columns { get; }
    public int Count => Columns.Count;

    public int IndexOf(string name) => _byName.TryGetValue(name, out int i) ? i : -1;

    public ColumnDefinition Get(string name) =>
        _byName.TryGetValue(name, out int i) ? Columns[i] : throw new ArgumentException($"Unknown column '{name}'.");

    public static TableSchema FromArrow(int version, Schema schema) =>
        new(version, schema.FieldsList.Select(f => new ColumnDefinition(f.Name, ColumnTypes.FromArrow(f.DataType))).ToList());

    /// <summary>
    /// The Arrow schema of <paramref name="projection"/> (null: every column). The whole table's is built
    /// once and shared (Arrow schemas are immutable): every batch of a query carries one, and rebuilding
    /// it per batch was a measurable part of a small query's CPU (docs/benchmarks.md, branch payload16).
    /// </summary>
    public Schema ToArrow(IReadOnlyList<int>? projection = null)
    {
        if (projection is null || IsWholeTable(projection)) return _wholeTable ??= Build(Enumerable.Range(0, Count));
        return Build(projection);
    }

    private Schema? _wholeTable;

    private bool IsWholeTable(IReadOnlyList<int> projection)
    {
        if (projection.Count != Count) return false;
        for (int i = 0; i < projection.Count; i++) if (projection[i] != i) return false;
        return true;
    }

    private Schema Build(IEnumerable<int> columns)
    {
        var builder = new Schema.Builder();
        foreach (var i in columns)
            builder.Field(new Field(Columns[i].Name, ColumnTypes.ToArrow(Columns[i].Type), nullable: true));
        return builder.Build();
    }

    /// <summary>True when <paramref name="next"/> keeps every column of this schema (same name and type) and only adds new ones.</summary>
    public bool IsExtendedBy(TableSchema next) =>
        Columns.All(c => next.IndexOf(c.Name) is int i && i >= 0 && next.Columns[i].Type == c.Type);

    public bool SameColumns(TableSchema other) =>
        Count == other.Count && Columns.Zip(other.Columns).All(p => p.First == p.Second);
}
