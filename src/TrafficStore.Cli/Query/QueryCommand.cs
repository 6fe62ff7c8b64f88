using System.CommandLine;
using System.Text;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;

namespace TrafficStore.Cli.Query;

/// <summary>
/// `trafficstore query "TEXT QUERY"` or `trafficstore query --table T [--from] [--to] [--as-of]
/// [--where EXPR]... [--select a,b] [--order-by COL [--desc]] [--limit N]`, printed as table, csv or json.
/// </summary>
public static class QueryCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var text = new Argument<string?>("query") { Description = "A query in the text or JSON form of docs/query-language.md.", Arity = ArgumentArity.ZeroOrOne };
        var filters = new QueryFilterOptions();
        var format = new Option<string>("--format") { Description = "Output: table, csv or json (one object per line).", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var command = new Command("query", "Query a table of the store.") { text, format, store, server };
        filters.AddTo(command);
        command.SetAction(parse => CliErrors.Guard("query", stderr, () =>
        {
            string query = filters.Resolve(parse, parse.GetValue(text));
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            var result = client.Value.QueryAsync(query).GetAwaiter().GetResult();
            ResultWriter.WriteAsync(stdout, Enum.Parse<ResultFormat>(parse.GetValue(format)!, ignoreCase: true), result.Schema, result.Batches).GetAwaiter().GetResult();
            foreach (var w in result.Warnings) stderr.WriteLine($"trafficstore query: warning: {w}");
            return CliApp.ExitOk;
        }));
        return command;
    }
}

/// <summary>--table/--from/--to/--as-of/--where/--select/--order-by/--desc/--limit, turned into a text-form query.</summary>
public sealed class QueryFilterOptions
{
    public Option<string?> Table { get; } = new("--table") { Description = "Table: connections, http, dns, tls, payloads, packets, capture_stats, connection_timeline." };
    public Option<string?> From { get; } = new("--from") { Description = "Start of the window (now, -15m, ISO 8601, epoch seconds)." };
    public Option<string?> To { get; } = new("--to") { Description = "End of the window (exclusive)." };
    public Option<string?> AsOf { get; } = new("--as-of") { Description = "Rows open at this instant (instead of --from/--to)." };
    public Option<string[]> Where { get; } = new("--where") { Description = "A condition such as namespace=shop or status>=500; repeat for more (all must hold).", AllowMultipleArgumentsPerToken = false };
    public Option<string?> Select { get; } = new("--select") { Description = "Columns to print, comma-separated." };
    public Option<string?> OrderBy { get; } = new("--order-by") { Description = "Order the rows by this column (the time column: stored order; any other needs --limit, at most 10,000)." };
    public Option<bool> Desc { get; } = new("--desc") { Description = "With --order-by: descending." };
    public Option<int?> Limit { get; } = new("--limit") { Description = "At most this many rows." };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Table, From, To, AsOf, Where, Select, OrderBy, Desc, Limit }) command.Options.Add(o);
    }

    public bool Any(ParseResult p) => p.GetValue(Table) is not null || p.GetValue(From) is not null || p.GetValue(To) is not null
        || p.GetValue(AsOf) is not null || (p.GetValue(Where)?.Length ?? 0) > 0 || p.GetValue(Select) is not null || p.GetValue(OrderBy) is not null || p.GetValue(Desc) || p.GetValue(Limit) is not null;

    /// <summary>The query to run: the query text given as argument, else the one these options spell.</summary>
    public string Resolve(ParseResult p, string? text) => text is not null
        ? (Any(p) ? throw new CliUsageException("give either a query text or --table/--where options, not both") : text)
        : ToText(p);

    public string ToText(ParseResult p)
    {
        var table = p.GetValue(Table) ?? throw new CliUsageException("give a query text or --table");
        var sb = new StringBuilder(table);
        var where = p.GetValue(Where) ?? [];
        if (where.Length > 0) sb.Append(" where ").Append(string.Join(" and ", where));
        if (p.GetValue(From) is { } from) sb.Append(" from ").Append(from);
        if (p.GetValue(To) is { } to)
        {
            if (p.GetValue(From) is null) throw new CliUsageException("--to needs --from");
            sb.Append(" to ").Append(to);
        }
        if (p.GetValue(AsOf) is { } asOf) sb.Append(" as of ").Append(asOf);
        if (p.GetValue(Select) is { } select) sb.Append(" select ").Append(select);
        if (p.GetValue(OrderBy) is { } orderBy) sb.Append(" order by ").Append(orderBy).Append(p.GetValue(Desc) ? " desc" : "");
        else if (p.GetValue(Desc)) throw new CliUsageException("--desc goes with --order-by");
        if (p.GetValue(Limit) is { } limit) sb.Append(" limit ").Append(limit);
        return sb.ToString();
    }
}

/// <summary>Disposes an async client from synchronous command actions.</summary>
public readonly struct ClientScope(ITrafficClient value) : IDisposable
{
    public ITrafficClient Value { get; } = value;
    public void Dispose() => Value.DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>Turns the errors of store commands into messages and exit codes.</summary>
public static class CliErrors
{
    /// <summary>The call never reached a TrafficStore server: nothing listening, or TLS spoken to a cleartext port (or the reverse).</summary>
    private static bool IsConnectionFailure(Grpc.Core.RpcException e) =>
        e.StatusCode == Grpc.Core.StatusCode.Unavailable
        || (e.StatusCode == Grpc.Core.StatusCode.Internal && e.Status.Detail.StartsWith("Error starting gRPC call", StringComparison.Ordinal));

    public static int Guard(string command, TextWriter stderr, Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is QueryException or CliUsageException or ArgumentException or FileNotFoundException or DirectoryNotFoundException)
        {
            stderr.WriteLine($"trafficstore {command}: {e.Message}");
            return CliApp.ExitUsage;
        }
        catch (IOException e) when (e.InnerException is Grpc.Core.RpcException rpc && IsConnectionFailure(rpc))
        {
            // "the server answered Unavailable: Error connecting to subchannel." did not say what to check.
            stderr.WriteLine(rpc.Status.Detail.Contains("certificate", StringComparison.OrdinalIgnoreCase)
                ? $"trafficstore {command}: the server's TLS certificate is not trusted here (for a private CA: --tls-ca ca.pem): {rpc.Status.Detail}"
                : $"trafficstore {command}: cannot reach the server (is `trafficstore serve` running there, on that port, with TLS only for grpc+tls/https?): {rpc.Status.Detail}");
            return CliApp.ExitUsage;
        }
        catch (UnauthorizedAccessException e) when (e.Message.Contains("missing bearer token", StringComparison.Ordinal))
        {
            stderr.WriteLine($"trafficstore {command}: {e.Message}: give --token T, set TRAFFICSTORE_TOKEN, or put it in the address (grpc://TOKEN@host:port)");
            return CliApp.ExitUsage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"trafficstore {command}: {e.Message}");
            return CliApp.ExitUsage;
        }
    }
}
