using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using TrafficStore.Kubernetes.Identity;

namespace TrafficStore.Kubernetes.Watch;

/// <summary>
/// Live identity: lists and then watches pods, services, EndpointSlices, nodes, ReplicaSets (and Jobs)
/// cluster-wide and feeds every change into an <see cref="IdentityMap"/> with the time it was seen.
/// Each kind runs its own loop: list (paged) → watch from the list's resourceVersion → on a clean end
/// resume from the last resourceVersion seen (events and bookmarks) → on 410 Gone (the version fell out
/// of the API server's window) relist, ending objects that vanished meanwhile → on any other failure
/// back off exponentially and resume. A publish loop compiles the map every
/// <see cref="ClusterWatcherOptions.PublishInterval"/> and prunes history past the retention.
/// </summary>
public sealed class ClusterWatcher
{
    private readonly IKubernetes _client;
    private readonly IdentityMap _map;
    private readonly ClusterWatcherOptions _options;
    private readonly TaskCompletionSource _initialSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pendingInitialLists;
    private int _started;
    private long _lists, _relists, _watches, _reconnects, _events, _bookmarks, _errors;

    public ClusterWatcher(IKubernetes client, IdentityMap map, ClusterWatcherOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(map);
        _client = client;
        _map = map;
        _options = options ?? new ClusterWatcherOptions();
    }

    /// <summary>A client for the cluster the process runs in, else the kubeconfig (KUBECONFIG or ~/.kube/config).</summary>
    public static IKubernetes CreateClient(string? kubeconfigPath = null)
    {
        var config = kubeconfigPath is null && KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath);
        // Watches stay open for minutes; their length is bounded by timeoutSeconds and cancellation instead.
        config.HttpClientTimeout = Timeout.InfiniteTimeSpan;
        return new k8s.Kubernetes(config);
    }

    public IdentityMap Map => _map;

    public ClusterWatcherStatistics Statistics => new(
        Interlocked.Read(ref _lists), Interlocked.Read(ref _relists), Interlocked.Read(ref _watches),
        Interlocked.Read(ref _reconnects), Interlocked.Read(ref _events), Interlocked.Read(ref _bookmarks),
        Interlocked.Read(ref _errors));

    /// <summary>Completes once every kind has been listed once and the map published.</summary>
    public Task InitialSync => _initialSync.Task;

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled; then returns normally.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
            throw new InvalidOperationException("A ClusterWatcher runs once; create a new one to watch again.");
        var loops = new List<Task>
        {
            RunResourceAsync(ResourceApi<V1Pod>.Pods(_client), cancellationToken),
            RunResourceAsync(ResourceApi<V1Service>.Services(_client), cancellationToken),
            RunResourceAsync(ResourceApi<V1EndpointSlice>.EndpointSlices(_client), cancellationToken),
            RunResourceAsync(ResourceApi<V1Node>.Nodes(_client), cancellationToken),
            RunResourceAsync(ResourceApi<V1ReplicaSet>.ReplicaSets(_client), cancellationToken),
        };
        if (_options.WatchJobs) loops.Add(RunResourceAsync(ResourceApi<V1Job>.Jobs(_client), cancellationToken));
        Volatile.Write(ref _pendingInitialLists, loops.Count);
        loops.Add(RunPublishLoopAsync(cancellationToken));
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        finally
        {
            _initialSync.TrySetCanceled(cancellationToken);
        }
    }

    private long NowNs() => KubeTime.ToUnixNs(_options.Time.GetUtcNow());

    private async Task RunPublishLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PublishInterval, _options.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                _map.Prune(NowNs() - _options.HistoryRetention.Ticks * 100);
                _map.PublishIfDirty();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunResourceAsync<T>(ResourceApi<T> api, CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var backoff = new ExponentialBackoff(_options.InitialBackoff, _options.MaxBackoff);
        string? resourceVersion = null;
        bool listedOnce = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    resourceVersion = await ListAsync(api, cancellationToken).ConfigureAwait(false);
                    if (!listedOnce)
                    {
                        listedOnce = true;
                        if (Interlocked.Decrement(ref _pendingInitialLists) == 0)
                        {
                            _map.Publish();
                            _initialSync.TrySetResult();
                        }
                    }
                }

                var outcome = await WatchAsync(api, resourceVersion, cancellationToken).ConfigureAwait(false);
                resourceVersion = outcome.ResourceVersion;
                if (outcome.Gone)
                {
                    Interlocked.Increment(ref _relists);
                    resourceVersion = null;
                    continue;
                }
                Interlocked.Increment(ref _reconnects);
                if (outcome.Failure is not null) Interlocked.Increment(ref _errors);
                // Progress resets the back-off; a watch that ended cleanly after progress (the server's
                // timeoutSeconds) resumes at once, anything else waits first.
                if (outcome.DeliveredEvents) backoff.Reset();
                if (!outcome.DeliveredEvents || outcome.Failure is not null)
                    await Task.Delay(backoff.Next(), _options.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsGone(e))
            {
                // A list's continue token or a watch's resourceVersion expired before the watch began.
                Interlocked.Increment(ref _relists);
                resourceVersion = null;
            }
            catch (Exception)
            {
                // Connection refused, API server restarting, 5xx, timeouts: keep the version and try again later.
                Interlocked.Increment(ref _errors);
                Interlocked.Increment(ref _reconnects);
                try { await Task.Delay(backoff.Next(), _options.Time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private static bool IsGone(Exception e) => e switch
    {
        HttpOperationException http => http.Response?.StatusCode == HttpStatusCode.Gone,
        KubernetesException k8s => k8s.Status?.Code == (int)HttpStatusCode.Gone,
        _ => false,
    };

    private async Task<string> ListAsync<T>(ResourceApi<T> api, CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ListTimeout);
        var items = new List<T>();
        string? resourceVersion = null;
        string? continueToken = null;
        do
        {
            var page = await api.ListPage(continueToken, _options.ListPageSize, timeout.Token).ConfigureAwait(false);
            items.AddRange(page.Items);
            resourceVersion ??= page.ResourceVersion;
            continueToken = string.IsNullOrEmpty(page.Continue) ? null : page.Continue;
        }
        while (continueToken is not null);

        _map.Replace(items, NowNs());
        Interlocked.Increment(ref _lists);
        // A list without a version cannot be resumed from; "0" means "any version", the API server's own fallback.
        return string.IsNullOrEmpty(resourceVersion) ? "0" : resourceVersion;
    }

    private readonly record struct WatchOutcome(string ResourceVersion, bool Gone, bool DeliveredEvents, Exception? Failure);

    private async Task<WatchOutcome> WatchAsync<T>(ResourceApi<T> api, string resourceVersion, CancellationToken cancellationToken)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        using var watchStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bool gone = false;
        bool delivered = false;
        Exception? failure = null;

        void OnError(Exception e)
        {
            // An ERROR event carries a Status; the client reports it here instead of yielding it.
            if (IsGone(e)) gone = true;
            else if (e is KubernetesException) failure = e;
            else
            {
                // A line that did not deserialize: skip it, the stream goes on.
                Interlocked.Increment(ref _errors);
                return;
            }
            watchStop.Cancel();
        }

        Interlocked.Increment(ref _watches);
        try
        {
            await foreach (var (type, obj) in api.Watch(resourceVersion, _options.WatchTimeoutSeconds, OnError, watchStop.Token)
                               .WithCancellation(watchStop.Token).ConfigureAwait(false))
            {
                if (obj?.Metadata?.ResourceVersion is { Length: > 0 } version) resourceVersion = version;
                delivered = true;
                if (type == WatchEventType.Bookmark)
                {
                    Interlocked.Increment(ref _bookmarks);
                    continue;
                }
                if (type == WatchEventType.Error || obj is null) continue;
                _map.Apply(type, obj, NowNs());
                Interlocked.Increment(ref _events);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && (gone || failure is not null))
        {
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && !IsGone(e))
        {
            // The connection dropped mid-stream: resume from the last version we applied.
            failure = e;
        }
        return new WatchOutcome(resourceVersion, gone, delivered, failure);
    }
}
