using System.Diagnostics;
using System.Text.Json.Nodes;
using k8s;
using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Identity;
using TrafficStore.Kubernetes.Watch;
using static TrafficStore.Kubernetes.Tests.ClusterJson;

namespace TrafficStore.Kubernetes.Tests;

public class ClusterWatcherTests
{
    private const string PodsPath = "/api/v1/pods";
    private const string ServicesPath = "/api/v1/services";
    private const string SlicesPath = "/apis/discovery.k8s.io/v1/endpointslices";
    private const string NodesPath = "/api/v1/nodes";
    private const string ReplicaSetsPath = "/apis/apps/v1/replicasets";
    private const string JobsPath = "/apis/batch/v1/jobs";

    private static readonly ClusterWatcherOptions FastOptions = new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(50),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
        PublishInterval = TimeSpan.FromMilliseconds(50),
        WatchTimeoutSeconds = 30,
    };

    private static FakeApiServer EmptyCluster()
    {
        var server = new FakeApiServer();
        server.SetList(PodsPath, () => ApiList("PodList", "1", []));
        server.SetList(ServicesPath, () => ApiList("ServiceList", "1", []));
        server.SetList(SlicesPath, () => ApiList("EndpointSliceList", "1", []));
        server.SetList(NodesPath, () => ApiList("NodeList", "1", []));
        server.SetList(ReplicaSetsPath, () => ApiList("ReplicaSetList", "1", []));
        server.SetList(JobsPath, () => ApiList("JobList", "1", []));
        return server;
    }

    private static IKubernetes Client(FakeApiServer server) =>
        new k8s.Kubernetes(new KubernetesClientConfiguration { Host = server.Url, HttpClientTimeout = Timeout.InfiniteTimeSpan });

    // Deadlines, not delays: a passing test returns as soon as its condition holds; they are long because a loaded
    // 2-core CI machine running every test project at once can stall these loops for seconds.
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Ends the watcher if a test fails before it cancels it.</summary>
    private static CancellationTokenSource SafetyNet() => new(TimeSpan.FromMinutes(3));

    private static async Task Eventually(Func<bool> condition, string what, int timeoutMs = 60_000)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.ElapsedMilliseconds > timeoutMs) Assert.Fail($"Timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task ListsWatchesResumesAfterADropAndRelistsOn410()
    {
        await using var server = EmptyCluster();
        var now = DateTimeOffset.UtcNow;
        var podA = Pod("a", "shop", "uid-a", "10.244.0.1", "node-a", now.AddMinutes(-10), resourceVersion: "100");
        var podB = Pod("b", "shop", "uid-b", "10.244.0.2", "node-a", now.AddMinutes(-1), resourceVersion: "101");
        var podC = Pod("c", "shop", "uid-c", "10.244.0.3", "node-a", now.AddMinutes(-2), resourceVersion: "200");
        int lists = 0;
        server.SetList(PodsPath, () => Interlocked.Increment(ref lists) == 1
            ? ApiList("PodList", "100", [podA])
            // The relist after 410: A was deleted (we saw it), B vanished while we were not watching.
            : ApiList("PodList", "200", [podC]));
        server.EnqueueWatch(PodsPath, new FakeApiServer.Line(FakeApiServer.Event("ADDED", podB)), new FakeApiServer.Drop());
        var deletedA = podA.DeepClone().AsObject();
        deletedA["metadata"]!["resourceVersion"] = "102";
        server.EnqueueWatch(PodsPath, new FakeApiServer.Line(FakeApiServer.Event("DELETED", deletedA)),
            new FakeApiServer.Line(FakeApiServer.GoneEvent()));
        server.SetList(ServicesPath, () => ApiList("ServiceList", "7", [Service("api", "shop", "uid-svc", "10.96.0.50", [443], now.AddDays(-1))]));

        var map = new IdentityMap();
        var watcher = new ClusterWatcher(Client(server), map, FastOptions);
        using var cts = SafetyNet();
        var run = watcher.RunAsync(cts.Token);

        await watcher.InitialSync.WaitAsync(Deadline);
        // The watch may already have deleted A by now (the loops run concurrently): look before that.
        Assert.Equal("a", map.Resolve(NetAddress.Parse("10.244.0.1"), 0, Ns(now.AddMinutes(-5))).Pod);
        Assert.Equal("api", map.Resolve(NetAddress.Parse("10.96.0.50"), 443, Ns(DateTimeOffset.UtcNow)).Service);

        await Eventually(() => server.WatchVersions(PodsPath).Length >= 3 && !map.IsDirty
            && map.Resolve(NetAddress.Parse("10.244.0.3"), 0, Ns(DateTimeOffset.UtcNow)).IsKnown, "relist after 410");

        // Watch 1 started at the list's version, watch 2 resumed after the drop from B's version,
        // watch 3 started from the relist's version.
        Assert.Equal(["100", "101", "200"], server.WatchVersions(PodsPath).Take(3));
        Assert.Equal(2, server.ListCount(PodsPath));
        var stats = watcher.Statistics;
        Assert.True(stats.Relists >= 1, $"relists {stats.Relists}");
        Assert.True(stats.Reconnects >= 1, $"reconnects {stats.Reconnects}");
        Assert.Equal(2, stats.Events);

        long t = Ns(DateTimeOffset.UtcNow);
        Assert.False(map.Resolve(NetAddress.Parse("10.244.0.1"), 0, t).IsKnown);   // deleted by the watch event
        Assert.False(map.Resolve(NetAddress.Parse("10.244.0.2"), 0, t).IsKnown);   // missing from the relist
        Assert.Equal("c", map.Resolve(NetAddress.Parse("10.244.0.3"), 0, t).Pod);
        // History stays: before they ended, A and B still resolve.
        Assert.Equal("a", map.Resolve(NetAddress.Parse("10.244.0.1"), 0, Ns(now.AddMinutes(-5))).Pod);
        Assert.Equal("b", map.Resolve(NetAddress.Parse("10.244.0.2"), 0, Ns(now.AddSeconds(-30))).Pod);

        cts.Cancel();
        await run.WaitAsync(Deadline);
    }

    [Fact]
    public async Task HttpGoneOnTheWatchRequestForcesARelistAndACleanEndResumesFromTheSameVersion()
    {
        await using var server = EmptyCluster();
        var now = DateTimeOffset.UtcNow;
        int lists = 0;
        server.SetList(NodesPath, () => Interlocked.Increment(ref lists) == 1
            ? ApiList("NodeList", "5", [])
            : ApiList("NodeList", "9", [Node("node-z", "zone-9", "192.168.77.7", "uid-nz")]));
        server.EnqueueWatch(NodesPath, new FakeApiServer.HttpStatus(410));
        // A watch the server ends cleanly (its timeoutSeconds) with nothing in it: resumed from the same version.
        server.EnqueueWatch(NodesPath, new FakeApiServer.End());

        var map = new IdentityMap();
        var watcher = new ClusterWatcher(Client(server), map, FastOptions);
        using var cts = SafetyNet();
        var run = watcher.RunAsync(cts.Token);

        await Eventually(() => map.Resolve(NetAddress.Parse("192.168.77.7"), 0, Ns(DateTimeOffset.UtcNow)).Node == "node-z",
            "node from the relist");
        await Eventually(() => server.WatchVersions(NodesPath).Length >= 3, "watch resumed after clean end");
        Assert.Equal(["5", "9", "9"], server.WatchVersions(NodesPath).Take(3));
        Assert.Equal("zone-9", map.Resolve(NetAddress.Parse("192.168.77.7"), 0, Ns(DateTimeOffset.UtcNow)).Zone);

        cts.Cancel();
        await run.WaitAsync(Deadline);
    }

    /// <summary>
    /// A port that refuses connections for the whole test: bound, never listening. (A port found free and released again
    /// can be taken by a server of a test running in parallel.)
    /// </summary>
    private static System.Net.Sockets.Socket RefusingPort(out int port)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        port = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    [Fact]
    public async Task UnreachableApiServerIsRetriedUntilCancelled()
    {
        // Every list fails with connection refused.
        using var refusing = RefusingPort(out int port);
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{port}" });
        var watcher = new ClusterWatcher(client, new IdentityMap(), FastOptions);
        using var cts = SafetyNet();
        var run = watcher.RunAsync(cts.Token);

        await Eventually(() => watcher.Statistics.Errors >= 12, "several failed attempts per kind");
        Assert.False(watcher.InitialSync.IsCompleted);
        cts.Cancel();
        await run.WaitAsync(Deadline);
        Assert.True(watcher.InitialSync.IsCanceled);
    }

    [Fact]
    public async Task CancellingEndsTheBackOffAtOnce()
    {
        // Each kind fails once and then backs off for an hour: the run can only end within the deadline if the
        // cancellation ends the back-off (this asserted "within 2 s of the cancel" on a wall clock before).
        using var refusing = RefusingPort(out int port);
        var client = new k8s.Kubernetes(new KubernetesClientConfiguration { Host = $"http://127.0.0.1:{port}" });
        var options = new ClusterWatcherOptions { InitialBackoff = TimeSpan.FromHours(1), MaxBackoff = TimeSpan.FromHours(1) };
        var watcher = new ClusterWatcher(client, new IdentityMap(), options);
        using var cts = SafetyNet();
        var run = watcher.RunAsync(cts.Token);

        await Eventually(() => watcher.Statistics.Errors >= 6, "one failed list per kind (pods, services, endpoint slices, nodes, replica sets, jobs)");
        Assert.Equal(6, watcher.Statistics.Errors);     // all of them waiting out their back-off now
        cts.Cancel();
        await run.WaitAsync(Deadline);
        Assert.True(watcher.InitialSync.IsCanceled);
    }

    [Fact]
    public async Task PagedListsAreFollowedAndModifiedEventsUpdateThePod()
    {
        await using var server = EmptyCluster();
        var now = DateTimeOffset.UtcNow;
        var first = Pod("p1", "ns", "uid-p1", "10.244.5.1", "node-a", now.AddMinutes(-3));
        var second = Pod("p2", "ns", "uid-p2", "10.244.5.2", "node-a", now.AddMinutes(-3));
        server.SetPagedList(PodsPath, token => token switch
        {
            null => ApiList("PodList", "300", [first], continueToken: "page-2"),
            "page-2" => ApiList("PodList", "300", [second]),
            _ => throw new InvalidOperationException("unexpected continue token " + token),
        });
        // p2 is relabelled and moves to a new owner in a MODIFIED event.
        var relabelled = second.DeepClone().AsObject();
        relabelled["metadata"]!["resourceVersion"] = "301";
        relabelled["metadata"]!["labels"] = Labels(("app", "p"), ("track", "canary"));
        server.EnqueueWatch(PodsPath, new FakeApiServer.Line(FakeApiServer.Event("MODIFIED", relabelled)));

        var map = new IdentityMap();
        var watcher = new ClusterWatcher(Client(server), map, FastOptions);
        using var cts = SafetyNet();
        var run = watcher.RunAsync(cts.Token);
        await watcher.InitialSync.WaitAsync(Deadline);

        Assert.Equal(2, server.ListCount(PodsPath));
        Assert.Equal("p1", map.Resolve(NetAddress.Parse("10.244.5.1"), 0, Ns(DateTimeOffset.UtcNow)).Pod);
        await Eventually(() => map.Resolve(NetAddress.Parse("10.244.5.2"), 0, Ns(DateTimeOffset.UtcNow)).Labels == "app=p,track=canary",
            "MODIFIED applied");
        Assert.Equal("300", server.WatchVersions(PodsPath)[0]);

        cts.Cancel();
        await run.WaitAsync(Deadline);
    }
}
