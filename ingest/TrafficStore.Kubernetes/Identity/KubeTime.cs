namespace TrafficStore.Kubernetes.Identity;

/// <summary>Conversions between Kubernetes timestamps (RFC 3339, second precision) and capture time (ns since the Unix epoch).</summary>
public static class KubeTime
{
    public static long ToUnixNs(DateTime time)
    {
        var utc = time.Kind switch
        {
            DateTimeKind.Local => time.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(time, DateTimeKind.Utc),
            _ => time,
        };
        return checked((utc.Ticks - DateTime.UnixEpoch.Ticks) * 100);
    }

    public static long ToUnixNs(DateTimeOffset time) => checked((time.UtcTicks - DateTime.UnixEpoch.Ticks) * 100);

    public static long? ToUnixNs(DateTime? time) => time is { } t ? ToUnixNs(t) : null;

    public static DateTimeOffset FromUnixNs(long ns) => new(DateTime.UnixEpoch.Ticks + ns / 100, TimeSpan.Zero);
}
