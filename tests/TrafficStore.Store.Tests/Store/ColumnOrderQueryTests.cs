using System.Globalization;
using TrafficStore.Store.Client;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>"order by COL [desc] limit N" through the store's query path, checked against the unordered rows sorted here.</summary>
public class ColumnOrderQueryTests(SyntheticStoreFixture fixture) : IClassFixture<SyntheticStoreFixture>
{
    private readonly LocalTrafficClient _client = new(fixture.Db);

    private async Task<(List<string> Columns, List<Dictionary<string, string>> Rows)> Query(string text)
    {
        var result = await _client.QueryAsync(text);
        var rows = new List<Dictionary<string, string>>();
        await foreach (var b in result.Batches) rows.AddRange(TextRows(b));
        return (result.Schema.FieldsList.Select(f => f.Name).ToList(), rows);
    }

    [Fact]
    public async Task SlowestRequestsFirst()
    {
        var (_, all) = await Query("http");
        var timed = all.Where(r => r["time"] != "").ToList();
        Assert.True(timed.Count > 20, "the synthetic capture has timed exchanges");
        var expected = timed.OrderByDescending(r => decimal.Parse(r["time"], CultureInfo.InvariantCulture)).Take(10)
            .Select(r => decimal.Parse(r["time"], CultureInfo.InvariantCulture)).ToList();

        var (columns, top) = await Query("http order by time desc limit 10");
        Assert.Equal(expected, top.Select(r => decimal.Parse(r["time"], CultureInfo.InvariantCulture)).ToList());
        Assert.Contains("uri", columns);
    }

    [Fact]
    public async Task TheOrderColumnIsReadButNotReturnedWhenNotSelected()
    {
        var (_, all) = await Query("connections where transport=tcp select connection_id, bytes_s2c");
        var expected = all.OrderByDescending(r => long.Parse(r["bytes_s2c"], CultureInfo.InvariantCulture))
            .Take(5).Select(r => r["bytes_s2c"]).ToList();

        var (columns, top) = await Query("connections where transport=tcp select connection_id order by bytes_s2c desc limit 5");
        Assert.Equal(["connection_id"], columns);
        Assert.Equal(5, top.Count);
        var bytesById = all.ToDictionary(r => r["connection_id"], r => r["bytes_s2c"]);
        Assert.Equal(expected, top.Select(r => bytesById[r["connection_id"]]).ToList());
    }

    [Fact]
    public async Task StringOrderAscending()
    {
        var (_, all) = await Query("dns select qname");
        var expected = all.Select(r => r["qname"]).Where(q => q != "").Order(StringComparer.Ordinal).Take(7).ToList();
        var (_, top) = await Query("dns where qname!='' select qname order by qname limit 7");
        Assert.Equal(expected, top.Select(r => r["qname"]).ToList());
    }
}
