using System.Text.Json;
using System.Text.Json.Nodes;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The two query forms of docs/query-language.md: parsing a command or ticket, and writing a parsed
/// query back as the JSON form with absolute nanosecond times (the tickets of GetFlightInfo's
/// endpoints), so a ticket is itself a query any client can read and send.
/// </summary>
public static class QueryText
{
    public static TrafficQuery Parse(string text, long nowNs)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new QueryException("the query is empty");
        return text.TrimStart().StartsWith('{') ? JsonQueryParser.Parse(text, nowNs) : TextQueryParser.Parse(text, nowNs);
    }

    public static string ToJson(TrafficQuery q)
    {
        var o = new JsonObject { ["version"] = TrafficQuery.CurrentVersion, ["table"] = q.Table };
        if (q.FromNs is { } f) o["from"] = f;
        if (q.ToNs is { } t) o["to"] = t;
        if (q.AsOfNs is { } a) o["as_of"] = a;
        if (q.Filters.Count > 0)
        {
            var where = new JsonArray();
            foreach (var filter in q.Filters)
            {
                JsonNode value = filter.Op == FilterOp.In
                    ? new JsonArray(filter.Values.Select(v => (JsonNode)JsonValue.Create(v.Text)!).ToArray())
                    : JsonValue.Create(filter.Value.Text)!;
                where.Add(new JsonObject { ["field"] = filter.Field, ["op"] = QueryRules.OpText(filter.Op), ["value"] = value });
            }
            o["where"] = where;
        }
        if (q.Select is { } sel) o["select"] = new JsonArray(sel.Select(s => (JsonNode)JsonValue.Create(s)!).ToArray());
        if (q.OrderBy is { } ob) o["order_by"] = ob;
        if (q.Descending) o["desc"] = true;
        if (q.Limit is { } l) o["limit"] = l;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
