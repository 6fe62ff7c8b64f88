using System.Text.Json;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Catalog;

/// <summary>
/// store.json: settings fixed when a store is created. The partition duration is one of them:
/// segments, the ordered query path and estimates all assume every segment covers exactly one
/// partition of this width, so reopening with another <see cref="StoreOptions.PartitionDuration"/> keeps the stored one.
/// </summary>
internal static class StoreSettingsFile
{
    private sealed record SettingsDto(int FormatVersion, long PartitionDurationNs);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static TimeSpan LoadOrCreate(string path, TimeSpan requested)
    {
        if (File.Exists(path))
        {
            var dto = JsonSerializer.Deserialize<SettingsDto>(File.ReadAllText(path), Json)
                      ?? throw new InvalidDataException($"'{path}' holds no store settings.");
            if (dto.PartitionDurationNs <= 0) throw new InvalidDataException($"'{path}' has an invalid partition duration.");
            return TimeSpan.FromTicks(dto.PartitionDurationNs / 100);
        }
        DurableFile.Replace(path, JsonSerializer.Serialize(new SettingsDto(1, requested.Ticks * 100), Json));
        return requested;
    }
}
