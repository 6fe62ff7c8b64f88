using System.Text.Json;
using System.Text.Json.Nodes;
using TrafficStore.Engine.Retention;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Flight;

/// <summary>
/// JSON bodies of the Flight actions (docs/server.md), shared by the server and <c>FlightTrafficClient</c>.
/// Retention policies use the shape of the store's retention.json:
/// <c>{"global":{"max_age_seconds":604800,"max_bytes":null},"namespaces":{"kube-system":{"max_age_seconds":86400}}}</c>.
/// </summary>
public static class WireJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    public static JsonObject PolicyToJson(RetentionPolicy p)
    {
        var ns = new JsonObject();
        foreach (var (name, limits) in p.Namespaces.OrderBy(n => n.Key, StringComparer.Ordinal)) ns[name] = LimitsToJson(limits);
        return new JsonObject { ["global"] = LimitsToJson(p.Global), ["namespaces"] = ns };
    }

    private static JsonObject LimitsToJson(RetentionLimits l) => new()
    {
        ["max_age_seconds"] = l.MaxAge?.TotalSeconds,
        ["max_bytes"] = l.MaxBytes,
    };

    /// <summary>Reads a policy; unknown keys and negative limits are <see cref="QueryException"/>s (InvalidArgument).</summary>
    public static RetentionPolicy PolicyFromJson(string json)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new QueryException("the retention policy is not valid JSON: " + e.Message); }
        if (root is not JsonObject o) throw new QueryException("the retention policy must be a JSON object with \"global\" and/or \"namespaces\"");
        RetentionLimits global = new();
        var namespaces = new Dictionary<string, RetentionLimits>(StringComparer.Ordinal);
        foreach (var (key, value) in o)
        {
            switch (key)
            {
                case "global": global = LimitsFromJson(value, "global"); break;
                case "namespaces":
                    if (value is not JsonObject nso) throw new QueryException("\"namespaces\" must be an object of namespace -> limits");
                    foreach (var (ns, limits) in nso) namespaces[ns] = LimitsFromJson(limits, ns);
                    break;
                default: throw new QueryException($"unknown retention key '{key}' (global, namespaces)");
            }
        }
        return new RetentionPolicy { Global = global, Namespaces = namespaces };
    }

    private static RetentionLimits LimitsFromJson(JsonNode? node, string where)
    {
        if (node is null) return new();
        if (node is not JsonObject o) throw new QueryException($"limits of '{where}' must be an object with max_age_seconds and/or max_bytes");
        TimeSpan? age = null;
        long? bytes = null;
        foreach (var (key, value) in o)
        {
            switch (key)
            {
                case "max_age_seconds":
                    if (value is null) break;
                    double s = ReadNumber(value, where, key);
                    // TimeSpan holds whole 100 ns ticks up to ~29,000 years: 1e-300 would be a zero age (delete everything), 1e300 an OverflowException.
                    if (!(s >= 1e-7 && s < TimeSpan.MaxValue.TotalSeconds))
                        throw new QueryException($"max_age_seconds of '{where}' must be positive and at most {TimeSpan.MaxValue.TotalSeconds:0} (got {s})");
                    age = TimeSpan.FromSeconds(s);
                    break;
                case "max_bytes":
                    if (value is null) break;
                    double b = ReadNumber(value, where, key);
                    if (b <= 0 || b != Math.Floor(b) || b >= long.MaxValue) throw new QueryException($"max_bytes of '{where}' must be a positive 64-bit integer");
                    bytes = (long)b;
                    break;
                default: throw new QueryException($"unknown limit '{key}' in '{where}' (max_age_seconds, max_bytes)");
            }
        }
        return new RetentionLimits(age, bytes);
    }

    private static double ReadNumber(JsonNode value, string where, string key) =>
        value is JsonValue v && v.TryGetValue<double>(out var d) ? d : throw new QueryException($"{key} of '{where}' must be a number");

    public static JsonObject ReportToJson(RetentionReport r) => new()
    {
        ["rows_deleted"] = r.RowsDeleted,
        ["bytes_freed"] = r.BytesFreed,
        ["actions"] = JsonSerializer.SerializeToNode(r.Actions, Options),
    };

    public static RetentionReport ReportFromJson(string json)
    {
        var o = JsonNode.Parse(json)!.AsObject();
        var actions = o["actions"].Deserialize<List<RetentionAction>>(Options) ?? [];
        return new RetentionReport(actions);
    }
}
