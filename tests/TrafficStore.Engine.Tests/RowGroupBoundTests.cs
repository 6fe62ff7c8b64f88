using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Sealing cuts a row group before the row that would take it over <see cref="StoreOptions.RowGroupMaxBytes"/>:
/// a row group of several rows stays within the bound, and a row larger than the bound is a row group of its own.
/// Rows of heavy-tailed size (like payload bodies) made row groups end far above the bound when they ended
/// with the row that crossed it.
/// </summary>
public class RowGroupBoundTests
{
    private const long Bound = 4 << 10;

    /// <summary>Rows whose path is mostly short, every 37th 2.5–3 KiB and every 101st larger than the bound.</summary>
    private static List<QueryTests.Row> HeavyTailed() => QueryTests.Model(1200).Select((r, i) => r with
    {
        Path = i % 101 == 0 ? new string('x', (int)Bound + 500 + i) : i % 37 == 0 ? new string('y', 2500 + i % 500) : r.Path,
    }).ToList();

    [Theory]
    [InlineData(false)] // appended in time order: the in-order seal
    [InlineData(true)]  // shuffled: the sorted seal
    public async Task RowGroupsEndBeforeTheRowThatCrossesTheBound(bool shuffle)
    {
        using var dir = new TempDir();
        var model = HeavyTailed();
        var input = shuffle ? model.OrderBy(r => (r.ConnId * 7919) % 3001).ThenBy(r => r.Time).ToList() : model;
        var options = Options(dir.Path) with { RowGroupRows = 1000, RowGroupMaxBytes = Bound };
        await using var engine = TrafficStoreEngine.Open(options);
        engine.RegisterTable(QueryTests.ConnSpec);
        // Small appends: each block is far under half a row group, so the bound alone ends row groups.
        for (int i = 0; i < input.Count; i += 4) await engine.AppendAsync("conns", QueryTests.ToBatch(input.Skip(i).Take(4).ToList()));
        await engine.FlushAsync();

        int groups = 0, single = 0, large = 0;
        foreach (var file in Directory.EnumerateFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories))
        {
            using var reader = SegmentReader.Open(file);
            for (int g = 0; g < reader.Footer.RowGroups.Length; g++)
            {
                var rowBytes = RowBytes(reader, g);
                long total = rowBytes.Sum();
                groups++;
                if (rowBytes.Length == 1) single++;
                if (rowBytes.Any(b => b > Bound))
                {
                    large++;
                    Assert.Single(rowBytes); // a row larger than the bound is alone
                }
                else if (rowBytes.Length > 1)
                {
                    Assert.True(total <= Bound, $"{file} row group {g}: {rowBytes.Length} rows, {total} bytes over the {Bound}-byte bound");
                }
            }
        }
        Assert.Equal(model.Count(r => r.Path.Length > Bound), large);
        Assert.True(groups > single, "most row groups hold several rows");
        var rows = await Rows(engine, new QuerySpec("conns") { OrderByTime = true });
        Assert.Equal(model.Select(r => r.Path).Order(StringComparer.Ordinal), rows.Select(r => (string)r["path"]!).Order(StringComparer.Ordinal));
    }

    /// <summary>Each row's bytes as the sealer counts them: 8 per fixed-width value (1 per bool) plus the bytes of each string.</summary>
    private static long[] RowBytes(SegmentReader reader, int rowGroup)
    {
        long[]? bytes = null;
        for (int c = 0; c < reader.Footer.Columns.Count; c++)
        {
            var chunk = reader.ReadChunk(c, rowGroup);
            bytes ??= new long[chunk.Length];
            for (int r = 0; r < chunk.Length; r++)
                bytes[r] += ColumnTypes.IsBytes(chunk.Type) ? chunk.Offsets[r + 1] - chunk.Offsets[r] : chunk.Type == ColumnType.Bool ? 1 : 8;
        }
        return bytes ?? [];
    }
}
