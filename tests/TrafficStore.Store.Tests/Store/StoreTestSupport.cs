using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Tests.Store;

/// <summary>Temporary store directories, the shared capture corpus, and query results as text rows.</summary>
internal static class StoreTestSupport
{
    public static string PcapDir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("TRAFFICSTORE_SHARED");
            if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return Path.Combine(env, "pcaps");
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln")))
                    return Path.Combine(dir.Parent!.FullName, "shared", "pcaps");
            throw new DirectoryNotFoundException("shared capture corpus not found");
        }
    }

    public static string Pcap(string name) => Path.Combine(PcapDir, name);

    public static TheoryData<string> Captures()
    {
        var data = new TheoryData<string>();
        foreach (var p in Directory.EnumerateFiles(PcapDir).Where(p => p.EndsWith(".pcap") || p.EndsWith(".pcapng")).Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(p));
        return data;
    }

    /// <summary>Fast partitions and no background work, so tests are deterministic.</summary>
    public static TrafficDatabase OpenDatabase(string dir) => TrafficDatabase.Open(dir, new TrafficDatabaseOptions
    {
        Engine = o => o with { FlushInterval = null, RetentionInterval = null },
    });

    /// <summary>Every row of a query, each as column name → text (ArrowValueFormatter, i.e. the CSV rendering).</summary>
    public static async Task<List<Dictionary<string, string>>> Rows(TrafficDatabase db, QuerySpec spec)
    {
        var rows = new List<Dictionary<string, string>>();
        await foreach (var b in db.Engine.QueryAsync(spec))
            rows.AddRange(TextRows(b));
        return rows;
    }

    public static IEnumerable<Dictionary<string, string>> TextRows(RecordBatch b)
    {
        for (int i = 0; i < b.Length; i++)
        {
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int c = 0; c < b.ColumnCount; c++) row[b.Schema.GetFieldByIndex(c).Name] = ArrowValueFormatter.Format(b.Column(c), i);
            yield return row;
        }
    }

    public static string Line(Dictionary<string, string> row, IEnumerable<string> columns) => string.Join(",", columns.Select(c => TableWriters.CsvField(row[c])));
}

internal sealed class TempDir : IDisposable
{
    public TempDir() => System.IO.Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ts-store-" + Guid.NewGuid().ToString("N"));
    public void Dispose()
    {
        try { System.IO.Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
