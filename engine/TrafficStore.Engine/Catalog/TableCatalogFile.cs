using System.Text.Json;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Catalog;

/// <summary>A table as persisted in catalog.json: its settings and every schema version.</summary>
internal sealed record TableDefinition(
    string Name, string TimeColumn, string? EndTimeColumn, IReadOnlyList<string> IndexedColumns, string? NamespaceColumn,
    IReadOnlyList<TableSchema> Versions)
{
    public TableSchema Schema => Versions[^1];
}

/// <summary>Reads and atomically writes catalog.json.</summary>
internal static class TableCatalogFile
{
    private sealed record ColumnDto(string Name, string Type);
    private sealed record VersionDto(int Version, List<ColumnDto> Columns);
    private sealed record TableDto(string Name, string TimeColumn, string? EndTimeColumn, List<string> IndexedColumns, string? NamespaceColumn, List<VersionDto> Versions);
    private sealed record CatalogDto(int FormatVersion, List<TableDto> Tables);

    // Compact: every schema version of every table is kept, so indentation would be most of the file
    // (40 KB → 15 KB for the store's tables); `jq . catalog.json` shows it indented.
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Dictionary<string, TableDefinition> Load(string path)
    {
        var tables = new Dictionary<string, TableDefinition>(StringComparer.Ordinal);
        if (!File.Exists(path)) return tables;
        var dto = JsonSerializer.Deserialize<CatalogDto>(File.ReadAllText(path), Json)
                  ?? throw new InvalidDataException($"'{path}' holds no catalog.");
        foreach (var t in dto.Tables)
        {
            var versions = t.Versions.Select(v => new TableSchema(v.Version,
                v.Columns.Select(c => new ColumnDefinition(c.Name, Enum.Parse<ColumnType>(c.Type))).ToList())).ToList();
            tables[t.Name] = new TableDefinition(t.Name, t.TimeColumn, t.EndTimeColumn, t.IndexedColumns, t.NamespaceColumn, versions);
        }
        return tables;
    }

    public static void Save(string path, IEnumerable<TableDefinition> tables)
    {
        var dto = new CatalogDto(1, tables.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => new TableDto(
            t.Name, t.TimeColumn, t.EndTimeColumn, t.IndexedColumns.ToList(), t.NamespaceColumn,
            t.Versions.Select(v => new VersionDto(v.Version, v.Columns.Select(c => new ColumnDto(c.Name, c.Type.ToString())).ToList())).ToList())).ToList());
        DurableFile.Replace(path, JsonSerializer.Serialize(dto, Json));
    }
}
