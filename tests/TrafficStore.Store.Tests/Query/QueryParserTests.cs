using TrafficStore.Store.Query;

namespace TrafficStore.Store.Tests.Query;

public class QueryParserTests
{
    private const long Now = 1_700_000_000_000_000_000;

    [Fact]
    public void TextFormFromTheIssueParses()
    {
        var q = TextQueryParser.Parse("http where namespace=shop and status>=500 from -15m", Now);
        Assert.Equal("http", q.Table);
        Assert.Equal(Now - 15 * 60_000_000_000L, q.FromNs);
        Assert.Null(q.ToNs);
        Assert.Collection(q.Filters,
            f => { Assert.Equal("namespace", f.Field); Assert.Equal(FilterOp.Equal, f.Op); Assert.Equal("shop", f.Value.Text); },
            f => { Assert.Equal("status", f.Field); Assert.Equal(FilterOp.GreaterOrEqual, f.Op); Assert.Equal(500, f.Value.Number); });
    }

    [Fact]
    public void TextFormHasEveryClause()
    {
        var q = TextQueryParser.Parse("connections where pod in ('a-1', b) and path^='/api v1' as of 1362692526.869344 select stream, client_ip order by first_ts desc limit 10", Now);
        Assert.Equal(1362692526_869344000L, q.AsOfNs);
        Assert.Equal(new[] { "a-1", "b" }, q.Filters[0].Values.Select(v => v.Text));
        Assert.Equal(FilterOp.Prefix, q.Filters[1].Op);
        Assert.Equal("/api v1", q.Filters[1].Value.Text);
        Assert.Equal(new[] { "stream", "client_ip" }, q.Select);
        Assert.Equal("first_ts", q.OrderBy);
        Assert.True(q.Descending);
        Assert.Equal(10, q.Limit);
    }

    [Fact]
    public void IsoInstantsAndRangesParse()
    {
        var q = TextQueryParser.Parse("dns from 2024-01-02T03:04:05Z to 2024-01-02T03:05:05.5Z", Now);
        Assert.Equal(1704164645_000000000L, q.FromNs);
        Assert.Equal(1704164705_500000000L, q.ToNs);
    }

    [Theory]
    [InlineData("", "empty query")]
    [InlineData("http where", "field name")]
    [InlineData("http where status", "operator")]
    [InlineData("http where status >=", "value")]
    [InlineData("http where status ! 3", "not an operator")]
    [InlineData("http from -15x", "unknown unit")]
    [InlineData("http from yesterday", "is not a time")]
    [InlineData("http limit -1", "non-negative integer")]
    [InlineData("http where a = 'open", "unterminated")]
    [InlineData("http from -1m as of now", "either a time range")]
    [InlineData("http from -1m to -2m", "ends before it starts")]
    [InlineData("http sort by x", "unknown clause")]
    [InlineData("http from 4000000000000000000", "out of range")]
    [InlineData("http from 99999999999999999999", "out of range")]
    [InlineData("http from 9999-12-31T00:00:00Z", "out of range")]
    [InlineData("http from -999999999d", "out of range")]
    public void BadTextQueriesSayWhatIsWrong(string text, string expected)
    {
        var e = Assert.Throws<QueryException>(() => TextQueryParser.Parse(text, Now));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void JsonFormWithArrayAndObjectWhere()
    {
        var a = JsonQueryParser.Parse("""{"version":1,"table":"http","from":"-15m","where":[{"field":"namespace","op":"=","value":"shop"},{"field":"status","op":">=","value":500}],"limit":5}""", Now);
        var b = JsonQueryParser.Parse("""{"table":"http","from":"-15m","where":{"namespace":"shop","status":{">=":500}},"limit":5}""", Now);
        foreach (var q in new[] { a, b })
        {
            Assert.Equal("http", q.Table);
            Assert.Equal(Now - 900_000_000_000L, q.FromNs);
            Assert.Equal(2, q.Filters.Count);
            Assert.Equal(FilterOp.GreaterOrEqual, q.Filters[1].Op);
            Assert.Equal(5, q.Limit);
        }
    }

    [Fact]
    public void JsonTimesMayBeNanoseconds()
    {
        var q = JsonQueryParser.Parse("""{"table":"connections","as_of":1362692526869344000}""", Now);
        Assert.Equal(1362692526869344000L, q.AsOfNs);
    }

    [Theory]
    [InlineData("nope", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("{}", "\"table\"")]
    [InlineData("""{"table":"http","version":7}""", "unsupported query version")]
    [InlineData("""{"table":"http","colour":1}""", "unknown query key 'colour'")]
    [InlineData("""{"table":"http","where":[{"field":"status","op":"~","value":1}]}""", "unknown operator")]
    [InlineData("""{"table":"http","where":{"status":{"<":[1,2]}}}""", "needs op \"in\"")]
    [InlineData("""{"table":"http","limit":"ten"}""", "\"limit\"")]
    [InlineData("""{"table":"http","from":{}}""", "\"from\"")]
    public void BadJsonQueriesSayWhatIsWrong(string json, string expected)
    {
        var e = Assert.Throws<QueryException>(() => JsonQueryParser.Parse(json, Now));
        Assert.Contains(expected, e.Message);
    }
}
