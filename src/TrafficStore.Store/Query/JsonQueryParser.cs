using System.Text.Json;

namespace TrafficStore.Store.Query;

/// <summary>
/// The JSON command form (docs/query-language.md), e.g.
/// <code>{"version":1,"table":"http","from":"-15m","where":[{"field":"namespace","op":"=","value":"shop"},
/// {"field":"status","op":">=","value":500}],"select":["method","uri","status"],"order_by":"ts","desc":true,"limit":100}</code>
/// <c>where</c> may also be an object: <c>{"namespace":"shop","status":{"&gt;=":500},"pod":["a","b"]}</c>.
/// </summary>
public static class JsonQueryParser
{
    private static readonly HashSet<string> KnownKeys = new(StringComparer.Ordinal)
    {
        "version", "table", "from", "to", "as_of", "where", "select", "order_by", "desc", "limit",
    };

    public static TrafficQuery Parse(string json, long nowNs)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new QueryException("the query is not valid JSON: " + e.Message);
        }
        catch (ArgumentException)
        {
            // A string with a lone UTF-16 surrogate cannot be transcoded to UTF-8 (only local callers can send one).
            throw new QueryException("the query is not valid JSON: it holds an unpaired UTF-16 surrogate");
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new QueryException("the query must be a JSON object");
            foreach (var p in root.EnumerateObject())
                if (!KnownKeys.Contains(p.Name)) throw new QueryException($"unknown query key '{p.Name}' (known: {string.Join(", ", KnownKeys.Order())})");

            if (root.TryGetProperty("version", out var v) && (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int version) || version != TrafficQuery.CurrentVersion))
                throw new QueryException($"unsupported query version {v} (this server speaks version {TrafficQuery.CurrentVersion})");
            if (!root.TryGetProperty("table", out var table) || table.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(table.GetString()))
                throw new QueryException("the query needs a \"table\" string");

            var filters = new List<QueryFilter>();
            if (root.TryGetProperty("where", out var where)) ReadWhere(where, filters);

            List<string>? select = null;
            if (root.TryGetProperty("select", out var sel))
            {
                if (sel.ValueKind != JsonValueKind.Array) throw new QueryException("\"select\" must be an array of column names");
                select = new List<string>();
                foreach (var s in sel.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String) throw new QueryException("\"select\" must hold strings");
                    select.Add(s.GetString()!);
                }
            }

            int? limit = null;
            if (root.TryGetProperty("limit", out var lim))
            {
                if (lim.ValueKind != JsonValueKind.Number || !lim.TryGetInt32(out int l) || l < 0)
                    throw new QueryException("\"limit\" must be a non-negative integer");
                limit = l;
            }

            string? orderBy = null;
            if (root.TryGetProperty("order_by", out var ob))
            {
                if (ob.ValueKind != JsonValueKind.String) throw new QueryException("\"order_by\" must be a column name");
                orderBy = ob.GetString();
            }
            bool desc = false;
            if (root.TryGetProperty("desc", out var d))
            {
                if (d.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                    throw new QueryException("\"desc\" must be true or false");
                desc = d.ValueKind == JsonValueKind.True;
            }

            var q = new TrafficQuery
            {
                Table = table.GetString()!.Trim(),
                FromNs = ReadTime(root, "from", nowNs),
                ToNs = ReadTime(root, "to", nowNs),
                AsOfNs = ReadTime(root, "as_of", nowNs),
                Filters = filters,
                Select = select,
                OrderBy = orderBy,
                Descending = desc,
                Limit = limit,
            };
            return QueryRules.CheckShape(q);
        }
    }

    private static long? ReadTime(JsonElement root, string key, long nowNs)
    {
        if (!root.TryGetProperty(key, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number)
        {
            if (e.TryGetInt64(out long ns)) return ns;
            throw new QueryException($"\"{key}\" as a number must be integer nanoseconds since the epoch");
        }
        if (e.ValueKind == JsonValueKind.String) return QueryTime.Parse(e.GetString()!, nowNs);
        throw new QueryException($"\"{key}\" must be a time string or integer nanoseconds");
    }

    private static void ReadWhere(JsonElement where, List<QueryFilter> filters)
    {
        if (where.ValueKind == JsonValueKind.Array)
        {
            foreach (var c in where.EnumerateArray())
            {
                if (c.ValueKind != JsonValueKind.Object) throw new QueryException("each \"where\" condition must be an object with field, op and value");
                var field = c.TryGetProperty("field", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : throw new QueryException("a condition needs a \"field\"");
                var opText = c.TryGetProperty("op", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString()! : "=";
                if (!c.TryGetProperty("value", out var value)) throw new QueryException($"the condition on '{field}' needs a \"value\"");
                filters.Add(MakeFilter(field, QueryRules.ParseOp(opText), value));
            }
            return;
        }
        if (where.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in where.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Object)
                {
                    // {"status": {}} would otherwise add no condition at all and silently widen the query.
                    if (!p.Value.EnumerateObject().Any()) throw new QueryException($"the condition on '{p.Name}' names no operator (e.g. {{\"{p.Name}\": {{\">=\": 1}}}})");
                    foreach (var opEntry in p.Value.EnumerateObject())
                        filters.Add(MakeFilter(p.Name, QueryRules.ParseOp(opEntry.Name), opEntry.Value));
                }
                else if (p.Value.ValueKind == JsonValueKind.Array)
                {
                    filters.Add(MakeFilter(p.Name, FilterOp.In, p.Value));
                }
                else
                {
                    filters.Add(MakeFilter(p.Name, FilterOp.Equal, p.Value));
                }
            }
            return;
        }
        throw new QueryException("\"where\" must be an array of conditions or an object");
    }

    private static QueryFilter MakeFilter(string field, FilterOp op, JsonElement value)
    {
        var values = new List<QueryValue>();
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray()) values.Add(Literal(field, item));
            if (op == FilterOp.Equal) op = FilterOp.In;
            if (op != FilterOp.In) throw new QueryException($"a list of values on '{field}' needs op \"in\"");
        }
        else
        {
            values.Add(Literal(field, value));
        }
        if (values.Count == 0) throw new QueryException($"the condition on '{field}' has no values");
        return new QueryFilter(field.Trim(), op, values);
    }

    private static QueryValue Literal(string field, JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => QueryValue.Of(e.GetString()!),
        JsonValueKind.Number => QueryValue.Of(e.GetRawText()),
        JsonValueKind.True => new QueryValue("true", 1),
        JsonValueKind.False => new QueryValue("false", 0),
        _ => throw new QueryException($"the value for '{field}' must be a string, number or boolean"),
    };
}
