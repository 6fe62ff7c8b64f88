using TrafficStore.Server.Flight;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Tests;

/// <summary>Endpoint tickets are queries written back in the JSON form: they must mean the same query.</summary>
public class QueryTextTests
{
    private const long Now = 1_764_115_200_000_000_000; // 2025-11-26T00:00:00Z

    [Theory]
    [InlineData("http where namespace=shop and status>=500 from -15m")]
    [InlineData("http where path^='/api/v2' and method in (POST, PUT) from -2h to -1h select ts, method, uri limit 50")]
    [InlineData("connections as of 2026-11-26T14:02:00Z where pod=checkout-7d9f")]
    [InlineData("dns where rcode_name=NXDOMAIN from 1362692526.869344 select qname, client_ip")]
    [InlineData("""{"table":"http","where":{"status":{">=":500},"pod":["a","b"]},"order_by":"ts","limit":3}""")]
    public void JsonFormRoundTrips(string text)
    {
        var parsed = QueryText.Parse(text, Now);
        var json = QueryText.ToJson(parsed);
        var again = QueryText.Parse(json, Now + 3_600_000_000_000); // absolute times: "now" no longer matters
        Assert.Equal(json, QueryText.ToJson(again));
        Assert.Equal(parsed.Table, again.Table);
        Assert.Equal(parsed.FromNs, again.FromNs);
        Assert.Equal(parsed.ToNs, again.ToNs);
        Assert.Equal(parsed.AsOfNs, again.AsOfNs);
        Assert.Equal(parsed.Limit, again.Limit);
        Assert.Equal(parsed.Filters.Select(f => (f.Field, f.Op, string.Join(",", f.Values))), again.Filters.Select(f => (f.Field, f.Op, string.Join(",", f.Values))));
    }

    [Fact]
    public void EmptyQueriesAreRefused() => Assert.Throws<QueryException>(() => QueryText.Parse("  ", Now));
}
