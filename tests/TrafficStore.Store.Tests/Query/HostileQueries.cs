using System.Text;

using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Tests.Query;

/// <summary>
/// Deterministic hostile queries for the fuzz tests of both query forms (docs/query-language.md):
/// valid seeds, every column of every table compared with hostile literals, truncations, random
/// byte edits, type swaps of every JSON key, deep nesting, huge numbers and times, unicode and empty
/// strings. Linked into the server tests too, which send a sample of them over Flight.
/// </summary>
public static class HostileQueries
{
    public static readonly string[] Seeds =
    [
        "http where namespace=shop and status>=500 from -15m",
        "connections where pod in ('a-1', b) and path^='/api v1' as of 1362692526.869344 select stream, client_ip order by first_ts desc limit 10",
        "dns where rcode_name=NXDOMAIN from -1h select query_ts, qname, client_ip limit 50",
        "http where path_prefix='/api/v2' and method in (POST, PUT) from -2h to -1h",
        "http where namespace=shop from -1h order by time desc limit 20",
        "connections where health=degraded and port=443 from 2024-01-02T03:04:05Z to 2024-01-02T03:05:05.5Z",
        "packets where connection=3 limit 5",
        """{"version":1,"table":"http","from":"-15m","to":"now","where":[{"field":"namespace","op":"=","value":"shop"},{"field":"status","op":">=","value":500}],"select":["req_ts","method","host","uri","status"],"order_by":"ts","desc":true,"limit":100}""",
        """{"table":"connections","where":{"namespace":"shop","server_port":{">=":80},"pod":["a","b"]},"as_of":1362692526869344000}""",
        """{"table":"dns","where":[{"field":"qname","op":"^=","value":"exa"}],"order_by":"qname","limit":3}""",
    ];

    /// <summary>Literals that break naive number, time and text handling.</summary>
    public static readonly string[] Values =
    [
        "0", "-1", "1.5", "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "9223372036854775807", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999999999999999", ".", ".5", "5.", "..", "0x10", "1_000", "true", "yes", "",
        "now", "-15m", "-1e300d", "+1e20s", "-NaNm", "-Infinityh", "-9999999999999999d", "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z", "2262-04-12T00:00:00Z", "1677-09-20T00:00:00Z", "9999999999999.999999999", "'", "\"", "\u0000",
        "\uFFFF", "\uD800", "😀", "ß", "İ", "a b", "x=y", "(", ")", ",", new string('9', 400), new string('a', 10_000),
    ];

    private static readonly string[] Ops = ["=", "!=", "<", "<=", ">", ">=", "^=", "in"];

    /// <summary>Every column and logical field of every table, with every operator and hostile literal.</summary>
    public static IEnumerable<string> Conditions()
    {
        var fields = TrafficTables.All.SelectMany(t => t.Columns.Select(c => (t.Name, c.Name)))
            .Concat(TrafficTables.All.SelectMany(t => TrafficStore.Store.Query.QueryTranslator.LogicalFields.Select(f => (t.Name, f))));
        int n = 0;
        foreach (var (table, field) in fields)
        {
            // One operator and one literal per column in turn keeps the count bounded while every
            // column meets every operator and many literals.
            string op = Ops[n % Ops.Length];
            for (int k = 0; k < 6; k++)
            {
                string value = Values[(n * 7 + k * 13) % Values.Length];
                string quoted = "'" + value.Replace("'", "''") + "'";
                yield return op == "in" ? $"{table} where {field} in ({quoted}, 1)" : $"{table} where {field}{op}{quoted}";
                yield return Json(table, field, op == "in" ? "in" : op, value);
            }
            n++;
        }
    }

    private static string Json(string table, string field, string op, string value)
    {
        string literal = double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
            && value.All(c => char.IsAsciiDigit(c) || c is '-' or '+' or '.' or 'e' or 'E') && value.Any(char.IsAsciiDigit)
            ? value
            : System.Text.Json.JsonSerializer.Serialize(value);
        return $$"""{"table":"{{table}}","where":[{"field":{{System.Text.Json.JsonSerializer.Serialize(field)}},"op":"{{op}}","value":{{literal}}}]}""";
    }

    /// <summary>Every JSON key with a value of every JSON type (and a few hostile ones).</summary>
    public static IEnumerable<string> JsonTypeSwaps()
    {
        string[] keys = ["version", "table", "from", "to", "as_of", "where", "select", "order_by", "desc", "limit", "unknown_key", ""];
        string[] values =
        [
            "null", "true", "false", "0", "1", "-1", "1.5", "1e400", "-1e400", "2147483648", "9223372036854775808", "-9223372036854775809",
            "\"\"", "\" \"", "\"x\"", "\"-15m\"", "\".\"", "[]", "[null]", "[1,2]", "[\"a\"]", "{}", "{\"a\":1}", "{\">=\":{}}",
            "[{\"field\":\"status\"}]", "[{\"field\":1,\"op\":\"=\",\"value\":1}]", "[{\"field\":\"status\",\"op\":\"~\",\"value\":1}]",
            "{\"status\":{\">=\":[1,2]}}", "{\"status\":null}", "{\"duration\":{\"<\":1e300}}", "{\"\":1}",
        ];
        foreach (var key in keys)
            foreach (var value in values)
                yield return key == "table"
                    ? $$"""{"table":{{value}}}"""
                    : $$"""{"table":"http",{{System.Text.Json.JsonSerializer.Serialize(key)}}:{{value}}}""";
    }

    /// <summary>Each seed cut at every position.</summary>
    public static IEnumerable<string> Truncations() => Seeds.SelectMany(s => Enumerable.Range(0, s.Length).Select(i => s[..i]));

    /// <summary>Random edits of the seeds: replaced, inserted and deleted characters (fixed seed).</summary>
    public static IEnumerable<string> RandomEdits(int count, int seed)
    {
        var random = new Random(seed);
        const string alphabet = "(){}[],:\"'=!<>^- .0123456789eE\\\u0000\u00e9\uD83D\uDE00azwhereandfromtoselectorderbylimitasof";
        for (int i = 0; i < count; i++)
        {
            var sb = new StringBuilder(Seeds[random.Next(Seeds.Length)]);
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits && sb.Length > 0; e++)
            {
                int at = random.Next(sb.Length);
                switch (random.Next(4))
                {
                    case 0: sb[at] = alphabet[random.Next(alphabet.Length)]; break;
                    case 1: sb.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                    case 2: sb.Remove(at, 1); break;
                    default: sb[at] = (char)random.Next(0, 0x3000); break;
                }
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Huge and deeply nested inputs: bounded work and a clear error, not a stack overflow.</summary>
    public static IEnumerable<string> Monsters()
    {
        yield return "";
        yield return "   ";
        yield return "\u0000";
        yield return "{";
        yield return "}";
        yield return new string('[', 100_000);
        yield return "{\"table\":\"http\",\"where\":" + new string('[', 10_000) + new string(']', 10_000) + "}";
        yield return "{\"table\":\"http\",\"where\":" + string.Concat(Enumerable.Repeat("{\"a\":", 5_000)) + "1" + new string('}', 5_001);
        yield return "http where status in (" + new string('(', 10_000);
        yield return "http where status in (" + string.Join(",", Enumerable.Range(0, 20_000)) + ")";
        yield return "http " + string.Concat(Enumerable.Repeat("and status=1 ", 5_000));
        yield return "http select " + string.Join(",", Enumerable.Repeat("status", 5_000));
        yield return "http limit 99999999999999999999";
        yield return "http limit 2147483647";
        yield return "http limit 10000001";
        yield return "http order by status limit 2147483647";
        yield return "http order by status desc limit 0";
        yield return "{\"table\":\"http\",\"limit\":1e10}";
        yield return "{\"table\":\"http\",\"limit\":10000000}";
        yield return "{\"table\":\"http\",\"from\":-9223372036854775808,\"to\":9223372036854775807}";
        yield return "{\"table\":\"http\",\"as_of\":-9223372036854775808}";
        yield return "http from 0 to 0";
        yield return "http from " + new string('9', 22);
        yield return "http from '" + new string('9', 10_000) + "'";
        yield return "\"" + new string('x', 100_000);
        yield return "http where uri^='" + new string('x', 100_000) + "'";
        yield return "{\"table\":\"" + new string('t', 100_000) + "\"}";
        yield return "{\"table\":\"http\",\"table\":\"dns\"}";
        yield return "{\"table\":\"http\",\"version\":1.0000000001}";
        yield return "{\"table\":\"http\",\"version\":1e400}";
        yield return "{\"table\":\"http\"}garbage";
        yield return "{\"table\":\"http\"} ";
        yield return "\uFEFF{\"table\":\"http\"}";
    }

    public static IEnumerable<string> All() =>
        Seeds.Concat(Conditions()).Concat(JsonTypeSwaps()).Concat(Truncations()).Concat(RandomEdits(3_000, seed: 20261126)).Concat(Monsters());
}
