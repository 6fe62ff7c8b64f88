using System.Globalization;
using TrafficStore.Server.Tests.Support;

namespace TrafficStore.Server.Tests;

/// <summary>Top-N queries ("order by COL desc limit N") through a stock Flight client.</summary>
public class OrderedQueryTests(DemoFixture f) : IClassFixture<DemoFixture>
{
    [Fact]
    public async Task LargestConnectionsFirstWithOnlyTheSelectedColumns()
    {
        var all = await f.Server.GetAsync("connections select connection_id, bytes_s2c");
        var bytesById = all.Tuples("connection_id", "bytes_s2c").Select(t => t.Split('|')).ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture));
        var expected = bytesById.Values.OrderDescending().Take(8).ToList();

        var top = await f.Server.GetAsync("connections select connection_id order by bytes_s2c desc limit 8");
        Assert.Equal(["connection_id"], top.Schema.FieldsList.Select(x => x.Name));
        Assert.Equal(expected, top.Column("connection_id").Select(id => bytesById[id!]).ToList());
    }
}
