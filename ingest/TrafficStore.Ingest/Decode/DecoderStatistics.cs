namespace TrafficStore.Ingest.Decode;

/// <summary>Running counts of a <see cref="PacketDecoder"/>: frames by outcome and anomalies by kind.</summary>
public sealed class DecoderStatistics
{
    private readonly long[] _anomalies = new long[DecodeAnomalyNames.Count];

    public long Frames { get; internal set; }
    public long DecodedTcp { get; internal set; }
    public long DecodedUdp { get; internal set; }
    public long OtherIp { get; internal set; }
    public long NotIp { get; internal set; }
    public long FragmentsHeld { get; internal set; }
    /// <summary>Datagrams rebuilt from fragments (each is also counted as TCP, UDP or other IP).</summary>
    public long Reassembled { get; internal set; }
    public long Malformed { get; internal set; }
    public long UnsupportedLinkType { get; internal set; }

    /// <summary>How often <paramref name="anomaly"/> was recorded.</summary>
    public long this[DecodeAnomaly anomaly] => _anomalies[(int)anomaly];

    internal void Record(DecodeAnomaly anomaly) => _anomalies[(int)anomaly]++;

    /// <summary>Every anomaly with a non-zero count, by name.</summary>
    public IReadOnlyDictionary<string, long> AnomalyCounts()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int i = 1; i < _anomalies.Length; i++)
            if (_anomalies[i] != 0) result[((DecodeAnomaly)i).Name()] = _anomalies[i];
        return result;
    }
}
