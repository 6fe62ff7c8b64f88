using System.Text.Json;

namespace TrafficStore.Engine.Retention;

/// <summary>What retention has deleted over the store's life (stats and /metrics counters survive restarts).</summary>
internal sealed record RetentionTotals(long DeletedSegments, long RewrittenSegments, long DeletedRows, long DeletedBytes);

/// <summary>
/// Reads and writes retention-totals.json: written (temp file, then rename) after each retention run
/// that did something. Not fsynced: the totals are figures, not data; a crash can lose the last run's.
/// </summary>
internal static class RetentionTotalsFile
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static RetentionTotals Load(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<RetentionTotals>(File.ReadAllText(path), Json) ?? Zero : Zero;
        }
        catch (JsonException)
        {
            return Zero; // damaged figures restart from zero; the store's data is not affected
        }
    }

    public static void Save(string path, RetentionTotals totals)
    {
        var temp = StoreLayout.TempFileFor(path);
        File.WriteAllText(temp, JsonSerializer.Serialize(totals, Json));
        File.Move(temp, path, overwrite: true);
    }

    private static readonly RetentionTotals Zero = new(0, 0, 0, 0);
}
