namespace TrafficStore.Ingest.Flows;

/// <summary>
/// Oddities of a flow that are not the TCP analysis flags: a closed set with stable snake_case
/// names (<see cref="FlowAnomalyNames.Name"/>), counted per connection in the anomalies column.
/// </summary>
public enum FlowAnomaly : byte
{
    /// <summary>The out-of-order buffer of a direction would exceed IngestOptions.ReassemblyBufferBytes; the hole was skipped.</summary>
    ReassemblyCapHit,
    /// <summary>The classification buffer filled up without a content match; the port decided.</summary>
    ClassificationCapHit,
}

public static class FlowAnomalyNames
{
    /// <summary>Number of <see cref="FlowAnomaly"/> values (for per-flow count arrays).</summary>
    public const int Count = 2;

    public static string Name(this FlowAnomaly a) => a switch
    {
        FlowAnomaly.ReassemblyCapHit => "reassembly_cap_hit",
        FlowAnomaly.ClassificationCapHit => "classification_cap_hit",
        _ => "unknown",
    };

    /// <summary>"name:count" pairs joined with '|', in enum order; empty when all counts are 0.</summary>
    public static string Format(ReadOnlySpan<long> countsByAnomaly)
    {
        var parts = new List<string>();
        for (int i = 0; i < countsByAnomaly.Length; i++)
            if (countsByAnomaly[i] > 0) parts.Add($"{((FlowAnomaly)i).Name()}:{countsByAnomaly[i]}");
        return string.Join('|', parts);
    }
}
