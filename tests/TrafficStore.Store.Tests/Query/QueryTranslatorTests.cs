using TrafficStore.Engine.Query;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;
using FilterOp = TrafficStore.Engine.Query.FilterOp;

namespace TrafficStore.Store.Tests.Query;

/// <summary>TrafficQuery → engine QuerySpec: logical fields, value types, and the errors that name the problem.</summary>
public class QueryTranslatorTests
{
    private static QuerySpec T(string text) => QueryTranslator.Translate(QueryParser.Parse(text, nowNs: 1_000_000_000_000_000_000));

    [Theory]
    [InlineData("namespace", "client_namespace", "server_namespace")]
    [InlineData("pod", "client_pod", "server_pod")]
    [InlineData("service", "client_service", "server_service")]
    [InlineData("workload", "client_workload", "server_workload")]
    [InlineData("node", "client_node", "server_node")]
    [InlineData("ip", "client_ip", "server_ip")]
    public void IdentityFieldsMatchEitherEnd(string field, string client, string server)
    {
        foreach (var table in new[] { "connections", "http", "dns", "tls" })
        {
            var f = Assert.Single(T($"{table} where {field}=x").Filters);
            Assert.Equal(FilterOp.AnyOf, f.Op);
            Assert.Equal([ColumnFilter.Eq(client, "x"), ColumnFilter.Eq(server, "x")], f.Any!);
        }
    }

    [Fact]
    public void NotEqualOnAnEitherEndFieldMeansNeitherEnd()
    {
        var spec = T("connections where namespace!=shop");
        Assert.Equal([ColumnFilter.NotEq("client_namespace", "shop"), ColumnFilter.NotEq("server_namespace", "shop")], spec.Filters);
    }

    [Fact]
    public void PortIsAnIntegerOnEitherEnd()
    {
        var f = Assert.Single(T("connections where port in (80, 443)").Filters);
        Assert.Equal(FilterOp.AnyOf, f.Op);
        Assert.Equal("client_port", f.Any![0].Column);
        Assert.Equal(FilterOp.In, f.Any[0].Op);
        Assert.Equal(new object[] { 80L, 443L }, f.Any[0].Values);
    }

    [Fact]
    public void SingleColumnLogicalFields()
    {
        // capture_stats has no connection ends, but a node column (the capturing node): a column of the table.
        Assert.Equal([ColumnFilter.Eq("node", "worker-1")], T("capture_stats where node=worker-1").Filters);
        Assert.Equal([ColumnFilter.Eq("connection_id", 42L)], T("http where connection=42").Filters);
        Assert.Equal([ColumnFilter.Prefix("uri", "/api/v2")], T("http where path_prefix='/api/v2'").Filters);
        Assert.Equal([ColumnFilter.Eq("health", "severe")], T("connections where health=severe").Filters);
        Assert.Equal([ColumnFilter.Eq("protocol", "http")], T("connections where protocol=http").Filters);
        Assert.Equal([ColumnFilter.Eq("proto", "HTTP/2")], T("http where protocol='HTTP/2'").Filters);
    }

    [Fact]
    public void ColumnValuesTakeTheColumnsType()
    {
        Assert.Equal([ColumnFilter.Ge("status", 500L)], T("http where status>=500").Filters);
        Assert.Equal([ColumnFilter.Gt("retransmission_rate", 0.05)], T("connections where retransmission_rate>0.05").Filters);
        Assert.Equal([ColumnFilter.Eq("client_sack_permitted", true)], T("connections where client_sack_permitted=true").Filters);
        Assert.Equal([ColumnFilter.Gt("irtt", 1_500_000L)], T("connections where irtt>0.0015").Filters);
        Assert.Equal([ColumnFilter.Lt("first_ts", 1362692526_869344000L)], T("connections where first_ts<1362692526.869344").Filters);
    }

    [Fact]
    public void TimeWindowAsOfProjectionAndLimitPassThrough()
    {
        var spec = T("connections as of 1362692526.5 select connection_id, health limit 7");
        Assert.Equal(1362692526_500000000L, spec.AsOf);
        Assert.Equal(["connection_id", "health"], spec.Columns!);
        Assert.Equal(7, spec.Limit);
        Assert.True(spec.OrderByTime);
        var window = T("http from 10 to 20");
        Assert.Equal((10_000_000_000L, 20_000_000_000L), (window.From!.Value, window.To!.Value));
    }

    [Fact]
    public void NonTimeOrderReadsAllRowsWithTheOrderColumnAndLeavesTheLimitToTheTopRows()
    {
        var spec = T("http select method order by status desc limit 5");
        Assert.Equal(["method", "status"], spec.Columns!);
        Assert.Null(spec.Limit);
        Assert.True(spec.OrderByTime);
        Assert.False(spec.Descending);
        var timeOrder = T("http select method order by ts desc limit 5");
        Assert.Equal(5, timeOrder.Limit);
        Assert.True(timeOrder.Descending);
    }

    [Theory]
    [InlineData("nosuch", "unknown table 'nosuch'")]
    [InlineData("http where bogus=1", "unknown column 'bogus'")]
    [InlineData("http select method, nope", "unknown column 'nope'")]
    [InlineData("http where status=abc", "'abc' is not an integer")]
    [InlineData("packets where ip=10.0.0.1", "field 'ip' is not available on table 'packets'")]
    [InlineData("connections where path_prefix=/x", "field 'path_prefix' is not available on table 'connections'")]
    [InlineData("connections where health=awful", "health 'awful' is not one of")]
    [InlineData("packets where data=00", "holds bytes")]
    [InlineData("http where status^=5", "^= (starts with) needs a text column")]
    [InlineData("http order by status", "order by 'status' needs a limit")]
    [InlineData("http order by status limit 10001", "a limit of at most 10000")]
    [InlineData("http order by nope limit 5", "unknown column 'nope' in order by")]
    [InlineData("packets order by data limit 5", "cannot order by 'data': it holds bytes")]
    [InlineData("connections where client_sack_permitted=maybe", "not true or false")]
    public void ErrorsNameTheProblem(string query, string message)
    {
        var e = Assert.Throws<QueryException>(() => T(query));
        Assert.Contains(message, e.Message);
    }

    /// <summary>An unknown column's error suggests the nearest names of that table: the store's word for it, typos, parts.</summary>
    [Theory]
    [InlineData("http where path=/api", "unknown column 'path' in where of table 'http'; did you mean 'uri' or 'path_prefix'?")]
    [InlineData("http select method, status_code", "unknown column 'status_code' in select of table 'http'; did you mean 'status'?")]
    [InlineData("http where methdo=GET", "unknown column 'methdo' in where of table 'http'; did you mean 'method'?")]
    [InlineData("http order by latncy limit 5", "unknown column 'latncy' in order by of table 'http'; did you mean 'latency'?")]
    [InlineData("http select src_ip", "unknown column 'src_ip' in select of table 'http'; did you mean 'client_ip'?")]
    [InlineData("http select zzzzzz", "unknown column 'zzzzzz' in select of table 'http'")]
    // A logical field is suggested only where it can be used (a where clause) and only on a table that has its columns.
    [InlineData("http select path", "unknown column 'path' in select of table 'http'; did you mean 'uri'?")]
    [InlineData("dns where path=/x", "unknown column 'path' in where of table 'dns'")]
    public void UnknownColumnsSuggestTheNearestNames(string query, string message)
    {
        var e = Assert.Throws<QueryException>(() => T(query));
        Assert.Equal(message, e.Message);
    }

    /// <summary>
    /// On every table, a name is accepted in a where clause exactly when a where clause's "did you mean"
    /// can suggest it (<see cref="QueryTranslator.WhereFieldsOf"/>): no logical field the translator
    /// expands is missing from the suggestions, and none is suggested where the translator refuses it.
    /// The names tried are every column of every table, every logical field and a few near misses.
    /// </summary>
    [Fact]
    public void EveryFieldTheTranslatorAcceptsIsSuggestedAndViceVersa()
    {
        string[] names =
        [
            .. TrafficTables.All.SelectMany(t => t.Columns.Select(c => c.Name)), .. QueryTranslator.LogicalFields,
            "path", "url", "proto_name", "client", "server", "id", "Health", "PORT",
        ];
        int accepted = 0, refused = 0;
        foreach (var table in TrafficTables.All)
        {
            var suggestable = QueryTranslator.WhereFieldsOf(table);
            foreach (var name in names.Distinct())
            {
                // "healthy" is a valid health class; for other fields a value error still means the field was accepted.
                var query = new TrafficQuery { Table = table.Name, Filters = [new QueryFilter(name, TrafficStore.Store.Query.FilterOp.Equal, [QueryValue.Of("healthy")])] };
                string? refusal = null;
                try { QueryTranslator.Translate(query); }
                catch (QueryException e) when (e.Message.StartsWith("unknown column", StringComparison.Ordinal) || e.Message.Contains("is not available on table", StringComparison.Ordinal)) { refusal = e.Message; }
                catch (QueryException) { }
                Assert.True(suggestable.Contains(name) == (refusal is null),
                    $"{table.Name}.{name}: suggested={suggestable.Contains(name)}, translator: {refusal ?? "accepted"}");
                if (refusal is null) accepted++; else refused++;
            }
        }
        // Every logical field is usable somewhere (none is dead), and the loop saw both outcomes.
        foreach (var field in QueryTranslator.LogicalFields)
            Assert.Contains(TrafficTables.All, t => QueryTranslator.WhereFieldsOf(t).Contains(field));
        Assert.True(accepted > 0 && refused > 0);
    }
}
