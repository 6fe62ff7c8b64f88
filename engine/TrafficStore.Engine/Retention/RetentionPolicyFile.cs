using System.Text.Json;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Retention;

/// <summary>Reads and atomically writes retention.json.</summary>
internal static class RetentionPolicyFile
{
    private sealed record LimitsDto(double? MaxAgeSeconds, long? MaxBytes);
    private sealed record PolicyDto(LimitsDto Global, Dictionary<string, LimitsDto> Namespaces);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static RetentionPolicy Load(string path)
    {
        if (!File.Exists(path)) return RetentionPolicy.None;
        var dto = JsonSerializer.Deserialize<PolicyDto>(File.ReadAllText(path), Json)
                  ?? throw new InvalidDataException($"'{path}' holds no retention policy.");
        return new RetentionPolicy
        {
            Global = FromDto(dto.Global),
            Namespaces = (dto.Namespaces ?? []).ToDictionary(p => p.Key, p => FromDto(p.Value)),
        };
    }

    public static void Save(string path, RetentionPolicy policy)
    {
        var dto = new PolicyDto(ToDto(policy.Global), policy.Namespaces.ToDictionary(p => p.Key, p => ToDto(p.Value)));
        DurableFile.Replace(path, JsonSerializer.Serialize(dto, Json));
    }

    private static RetentionLimits FromDto(LimitsDto? d) =>
        d is null ? new() : new(d.MaxAgeSeconds is double s ? TimeSpan.FromSeconds(s) : null, d.MaxBytes);

    private static LimitsDto ToDto(RetentionLimits l) => new(l.MaxAge?.TotalSeconds, l.MaxBytes);
}
