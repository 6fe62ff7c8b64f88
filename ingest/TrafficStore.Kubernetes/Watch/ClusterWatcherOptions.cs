namespace TrafficStore.Kubernetes.Watch;

public sealed class ClusterWatcherOptions
{
    /// <summary>First reconnect delay after a failed list/watch; doubles up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>Items per list page (the API server's limit/continue paging).</summary>
    public int ListPageSize { get; set; } = 500;
    /// <summary>How long a list (all pages) may take before it is abandoned and retried.</summary>
    public TimeSpan ListTimeout { get; set; } = TimeSpan.FromSeconds(60);
    /// <summary>Server-side watch timeout; the watch is then resumed from the last resourceVersion.</summary>
    public int WatchTimeoutSeconds { get; set; } = 300;
    /// <summary>
    /// How often applied changes are compiled into the lookup table the packet path reads. A publish
    /// rebuilds the whole table (about 90 ms for 10 000 pods here), so this trades CPU under churn
    /// against how soon a new pod resolves; connection rows are enriched when they are emitted,
    /// usually well after their first packet.
    /// </summary>
    public TimeSpan PublishInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How long deleted pods, services and nodes stay resolvable (for packets that arrive late or are replayed).</summary>
    public TimeSpan HistoryRetention { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Also watch batch/v1 Jobs, to resolve Job → CronJob owner chains.</summary>
    public bool WatchJobs { get; set; } = true;
    public TimeProvider Time { get; set; } = TimeProvider.System;
}

/// <summary>Counters of a <see cref="ClusterWatcher"/>.</summary>
public readonly record struct ClusterWatcherStatistics(
    long Lists, long Relists, long Watches, long Reconnects, long Events, long Bookmarks, long Errors);
