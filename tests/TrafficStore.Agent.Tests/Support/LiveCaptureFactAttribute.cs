using TrafficStore.Ingest.Capture;

namespace TrafficStore.Agent.Tests.Support;

/// <summary>
/// A fact that needs live capture on the loopback interface. It is skipped, with the reason, only
/// when libpcap refuses to open "lo" for lack of permission (not root, no CAP_NET_RAW); any other
/// open failure lets the test run and fail with the error.
/// </summary>
public sealed class LiveCaptureFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> PermissionProblem = new(Probe);

    public LiveCaptureFactAttribute()
    {
        if (PermissionProblem.Value is { } why) Skip = why;
    }

    private static string? Probe()
    {
        using var source = LibpcapSource.OpenLive("lo", new LiveCaptureOptions { SnapLength = 128 });
        if (source is LibpcapSource) return null;
        var frame = new CaptureFrame();
        source.TryReadNext(ref frame);
        string message = source.Error?.Message ?? "";
        bool permission = message.Contains("permission", StringComparison.OrdinalIgnoreCase)
                          || message.Contains("not permitted", StringComparison.OrdinalIgnoreCase);
        return permission ? $"live capture on 'lo' needs root or CAP_NET_RAW + CAP_NET_ADMIN (libpcap: {message})" : null;
    }
}
