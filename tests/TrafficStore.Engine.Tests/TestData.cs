using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;

namespace TrafficStore.Engine.Tests;

/// <summary>Builds Arrow arrays from nullable values, and reads query results back into rows.</summary>
internal static class TestData
{
    /// <summary>A clock that always says <paramref name="now"/> (retention ages, cache times).</summary>
    internal sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    public static readonly TimestampType Ts = new(TimeUnit.Nanosecond, "UTC");
    public const long Second = 1_000_000_000L;
    public const long Minute = 60 * Second;
    /// <summary>2026-01-01T00:00:00Z in ns.</summary>
    public static readonly long Base = QuerySpec.ToNs(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private static (ArrowBuffer Bitmap, int Nulls) Validity<T>(IReadOnlyList<T?> values)
    {
        int nulls = values.Count(v => v is null);
        if (nulls == 0) return (ArrowBuffer.Empty, 0);
        var bits = new byte[(values.Count + 7) / 8];
        for (int i = 0; i < values.Count; i++) if (values[i] is not null) bits[i >> 3] |= (byte)(1 << (i & 7));
        return (new ArrowBuffer(bits), nulls);
    }

    private static ArrowBuffer Longs(IReadOnlyList<long?> values) =>
        new(MemoryMarshal.AsBytes(values.Select(v => v ?? 0).ToArray().AsSpan()).ToArray());

    public static Int64Array Int64(params long?[] values) { var (b, n) = Validity(values); return new Int64Array(Longs(values), b, values.Length, n, 0); }
    public static TimestampArray Timestamps(params long?[] values) { var (b, n) = Validity(values); return new TimestampArray(Ts, Longs(values), b, values.Length, n, 0); }
    public static DurationArray Durations(params long?[] values) { var (b, n) = Validity(values); return new DurationArray(DurationType.Nanosecond, Longs(values), b, values.Length, n, 0); }

    public static DoubleArray Doubles(params double?[] values)
    {
        var (b, n) = Validity(values);
        return new DoubleArray(new ArrowBuffer(MemoryMarshal.AsBytes(values.Select(v => v ?? 0).ToArray().AsSpan()).ToArray()), b, values.Length, n, 0);
    }

    public static BooleanArray Bools(params bool?[] values)
    {
        var builder = new BooleanArray.Builder();
        foreach (var v in values) { if (v is bool x) builder.Append(x); else builder.AppendNull(); }
        return builder.Build();
    }

    public static StringArray Strings(params string?[] values)
    {
        var builder = new StringArray.Builder();
        foreach (var v in values) { if (v is null) builder.AppendNull(); else builder.Append(v); }
        return builder.Build();
    }

    public static BinaryArray Binaries(params byte[]?[] values)
    {
        var builder = new BinaryArray.Builder();
        foreach (var v in values) { if (v is null) builder.AppendNull(); else builder.Append(v.AsSpan()); }
        return builder.Build();
    }

    public static Schema Schema(params (string Name, IArrowType Type)[] fields)
    {
        var b = new Schema.Builder();
        foreach (var (name, type) in fields) b.Field(new Field(name, type, nullable: true));
        return b.Build();
    }

    public static RecordBatch Batch(Schema schema, params IArrowArray[] columns) => new(schema, columns, columns[0].Length);

    /// <summary>A cell as a comparable .NET value (byte[] as hex).</summary>
    public static object? Cell(IArrowArray array, int i)
    {
        if (array.IsNull(i)) return null;
        return array switch
        {
            Int64Array a => a.GetValue(i),
            TimestampArray a => a.Values[i],
            DurationArray a => a.Values[i],
            DoubleArray a => a.GetValue(i),
            BooleanArray a => a.GetValue(i),
            StringArray a => a.GetString(i),
            BinaryArray a => Convert.ToHexString(a.GetBytes(i)),
            _ => throw new NotSupportedException(array.GetType().Name),
        };
    }

    /// <summary>Runs a query and returns its rows as dictionaries keyed by column name.</summary>
    public static async Task<List<Dictionary<string, object?>>> Rows(TrafficStoreEngine engine, QuerySpec q, QueryDiagnostics? diag = null)
    {
        var rows = new List<Dictionary<string, object?>>();
        await foreach (var batch in engine.QueryAsync(q, diag))
        {
            for (int r = 0; r < batch.Length; r++)
            {
                var row = new Dictionary<string, object?>();
                for (int c = 0; c < batch.ColumnCount; c++) row[batch.Schema.FieldsList[c].Name] = Cell(batch.Column(c), r);
                rows.Add(row);
            }
        }
        return rows;
    }

    /// <summary>
    /// Copies the store an older build wrote under Fixtures/<paramref name="name"/> (each test says which build) into
    /// <paramref name="destination"/>, so the test may open and change it.
    /// </summary>
    public static void CopyFixtureStore(string name, string destination) =>
        CopyStoreImage(System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", name), destination);

    /// <summary>
    /// Copies a store directory as a crash would leave it (the engine may still be running): everything but the
    /// LOCK file, which the running engine holds and a crash releases. Without <paramref name="withIndex"/> the FASTER
    /// index files are left out too, so open rebuilds the index from the segment footers (tests whose subject is
    /// the segment files, not the index's own recovery). Existing files in <paramref name="to"/> are overwritten.
    /// </summary>
    public static void CopyStoreImage(string from, string to, bool withIndex = true)
    {
        Directory.CreateDirectory(to);
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, dir)));
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = System.IO.Path.GetRelativePath(from, file);
            if (relative == "LOCK") continue;
            if (!withIndex && relative.StartsWith("index" + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal)) continue;
            File.Copy(file, System.IO.Path.Combine(to, relative), overwrite: true);
        }
    }

    /// <summary>The format magic a segment file starts with (TSSEG001 …).</summary>
    public static string SegmentMagic(string segmentPath)
    {
        Span<byte> magic = stackalloc byte[8];
        using var file = File.OpenRead(segmentPath);
        file.ReadExactly(magic);
        return System.Text.Encoding.ASCII.GetString(magic);
    }

    /// <summary>Asserts that the table "conns" holds exactly <paramref name="model"/>'s rows, in time order.</summary>
    public static async Task AssertConnsHoldExactly(TrafficStoreEngine engine, IReadOnlyList<QueryTests.Row> model)
    {
        var rows = await Rows(engine, new QuerySpec("conns") { OrderByTime = true });
        Assert.Equal(model.Select(r => r.Time), rows.Select(r => (long)r["time"]!));
        Assert.Equal(model.Select(r => r.Path), rows.Select(r => (string)r["path"]!));
        Assert.Equal(model.Select(r => r.Rtt), rows.Select(r => (double)r["rtt"]!));
        Assert.Equal(model.Select(r => r.End), rows.Select(r => (long?)r["end_time"]));
    }

    public static StoreOptions Options(string dir) => new(dir)
    {
        FlushInterval = null,
        RetentionInterval = null,
        PartitionDuration = TimeSpan.FromMinutes(1),
    };
}

/// <summary>A temporary store directory removed after the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("tsengine-").FullName;
    public string Path { get; }
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a child process may still be exiting; the OS temp cleaner will take it */ }
    }
}
