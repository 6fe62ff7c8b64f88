using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Tests.Store;

/// <summary>docs/tables.md lists every column of every table as the definitions say. Regenerate with TRAFFICSTORE_UPDATE_DOCS=1.</summary>
public class TablesDocumentTests
{
    [Fact]
    public void TablesDocumentMatchesTheDefinitions()
    {
        var path = Path.Combine(RepoRoot(), "docs", "tables.md");
        var text = File.ReadAllText(path).Replace("\r\n", "\n");
        int marker = text.IndexOf(TablesDocument.Marker, StringComparison.Ordinal);
        var prose = marker < 0 ? text : text[..marker];
        var expected = prose + TablesDocument.RenderColumns();
        if (Environment.GetEnvironmentVariable("TRAFFICSTORE_UPDATE_DOCS") == "1" && text != expected) File.WriteAllText(path, expected);
        else Assert.True(text == expected, "docs/tables.md is out of date: run this test with TRAFFICSTORE_UPDATE_DOCS=1 and commit the file");
    }

    [Fact]
    public void EveryTableHasDistinctDocumentedColumnsAndAValidSpec()
    {
        foreach (var t in TrafficTables.All)
        {
            Assert.Equal(t.Columns.Count, t.Columns.Select(c => c.Name).Distinct().Count());
            Assert.All(t.Columns, c => Assert.False(string.IsNullOrWhiteSpace(c.Description), $"{t.Name}.{c.Name}"));
            Assert.Equal(t.Columns.Select(c => c.Name), t.Schema.FieldsList.Select(f => f.Name));
            Assert.True(t.HasColumn(t.Spec.TimeColumn));
            if (t.Spec.EndTimeColumn is { } end) Assert.True(t.HasColumn(end));
            Assert.All(t.Spec.IndexedColumns, c => Assert.True(t.HasColumn(c), $"{t.Name} indexes unknown {c}"));
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("repository root not found");
    }
}
