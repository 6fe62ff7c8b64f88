using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Enrichment;
using TrafficStore.Kubernetes.Identity;
using TrafficStore.Ingest.Tests.Support;
using static TrafficStore.Kubernetes.Tests.ClusterJson;

namespace TrafficStore.Kubernetes.Tests;

public class IdentityMapTests
{
    private static T Parse<T>(JsonObject json) => KubernetesJson.Deserialize<T>(json.ToJsonString());

    private static void Add(IdentityMap map, JsonObject json, long observedNs = long.MinValue)
    {
        IKubernetesObject<V1ObjectMeta> obj = json["kind"]!.GetValue<string>() switch
        {
            "Pod" => Parse<V1Pod>(json),
            "Service" => Parse<V1Service>(json),
            "EndpointSlice" => Parse<V1EndpointSlice>(json),
            "Node" => Parse<V1Node>(json),
            "ReplicaSet" => Parse<V1ReplicaSet>(json),
            "Job" => Parse<V1Job>(json),
            var k => throw new ArgumentException(k),
        };
        Assert.True(map.Apply(WatchEventType.Added, obj, observedNs));
    }

    private static readonly NetAddress PodIp = NetAddress.Parse("10.244.1.17");

    [Fact]
    public void ReusedPodIpResolvesToThePodThatHeldItAtThePacketTime()
    {
        var map = new IdentityMap();
        var oldStart = T0;
        var oldEnd = T0.AddMinutes(10);
        var newStart = T0.AddMinutes(12);
        Add(map, Pod("web-1", "shop", "uid-web-1", "10.244.1.17", "node-a", oldStart, deleted: oldEnd));
        Add(map, Pod("worker-9", "batch", "uid-worker-9", "10.244.1.17", "node-a", newStart));
        map.Publish();

        Assert.Equal("web-1", map.Resolve(PodIp, 443, Ns(oldStart.AddSeconds(1))).Pod);
        Assert.Equal("web-1", map.Resolve(PodIp, 443, Ns(oldEnd.AddTicks(-1))).Pod);
        // Between the old pod's deletion and the new pod's start nobody holds the IP.
        Assert.False(map.Resolve(PodIp, 443, Ns(oldEnd.AddMinutes(1))).IsKnown);
        var later = map.Resolve(PodIp, 443, Ns(newStart.AddSeconds(5)));
        Assert.Equal("worker-9", later.Pod);
        Assert.Equal("batch", later.Namespace);
        // Before either pod existed.
        Assert.False(map.Resolve(PodIp, 443, Ns(oldStart.AddSeconds(-1))).IsKnown);
    }

    [Fact]
    public void MissedDeletionIsClosedWhenTheIpIsHandedToANewPod()
    {
        var map = new IdentityMap();
        Add(map, Pod("old", "ns", "uid-old", "10.244.1.17", "node-a", T0));
        Add(map, Pod("new", "ns", "uid-new", "10.244.1.17", "node-a", T0.AddMinutes(5)));
        map.Publish();
        Assert.Equal("old", map.Resolve(PodIp, 0, Ns(T0.AddMinutes(4))).Pod);
        Assert.Equal("new", map.Resolve(PodIp, 0, Ns(T0.AddMinutes(6))).Pod);
    }

    [Fact]
    public void DeletedEventEndsThePodAtTheEventTimeWhenThatIsBeforeItsGraceDeadline()
    {
        var map = new IdentityMap();
        var pod = Pod("web-1", "shop", "uid-web-1", "10.244.1.17", "node-a", T0, deleted: T0.AddMinutes(10));
        Add(map, pod);
        map.Apply(WatchEventType.Deleted, Parse<V1Pod>(pod), Ns(T0.AddMinutes(3)));
        map.Publish();
        Assert.True(map.Resolve(PodIp, 0, Ns(T0.AddMinutes(2))).IsKnown);
        Assert.False(map.Resolve(PodIp, 0, Ns(T0.AddMinutes(4))).IsKnown);
    }

    [Fact]
    public void ClusterIpTrafficIsAttributedToItsServiceAndPodsListTheirServices()
    {
        var map = new IdentityMap();
        Add(map, Service("checkout", "shop", "uid-svc-checkout", "10.96.14.2", [8080, 9090], T0.AddDays(-3)));
        Add(map, Service("checkout-admin", "shop", "uid-svc-admin", "10.96.14.3", [9090], T0.AddDays(-3)));
        Add(map, Pod("checkout-7d9f8c6b5-x2x4q", "shop", "uid-c1", "10.244.1.17", "node-a", T0));
        Add(map, Pod("checkout-7d9f8c6b5-p9kzt", "shop", "uid-c2", "10.244.2.9", "node-b", T0));
        Add(map, EndpointSlice("checkout-abcde", "shop", "uid-es-1", "checkout",
            [("10.244.1.17", "checkout-7d9f8c6b5-x2x4q", "node-a"), ("10.244.2.9", "checkout-7d9f8c6b5-p9kzt", "node-b")], 8080));
        Add(map, EndpointSlice("checkout-admin-fghij", "shop", "uid-es-2", "checkout-admin",
            [("10.244.1.17", "checkout-7d9f8c6b5-x2x4q", "node-a")], 9090));
        map.Publish();

        var service = map.Resolve(NetAddress.Parse("10.96.14.2"), 8080, Ns(T0.AddMinutes(1)));
        Assert.Equal(EndpointKind.Service, service.Kind);
        Assert.Equal("checkout", service.Service);
        Assert.Equal("shop", service.Namespace);
        Assert.Equal("", service.Pod);
        // A port the service does not declare still belongs to the ClusterIP.
        Assert.Equal("checkout", map.Resolve(NetAddress.Parse("10.96.14.2"), 1234, Ns(T0)).Service);

        var pod = map.Resolve(PodIp, 8080, Ns(T0.AddMinutes(1)));
        Assert.Equal(EndpointKind.Pod, pod.Kind);
        Assert.Equal("checkout,checkout-admin", pod.Service);
        Assert.Equal("checkout", map.Resolve(NetAddress.Parse("10.244.2.9"), 0, Ns(T0.AddMinutes(1))).Service);

        var backends = map.BackendsOf("shop", "checkout");
        Assert.Equal(["checkout-7d9f8c6b5-p9kzt", "checkout-7d9f8c6b5-x2x4q"], backends.Select(b => b.Pod));
        Assert.Empty(map.BackendsOf("shop", "nothing"));
    }

    [Fact]
    public void OwnerChainsResolveToTheTopWorkload()
    {
        var map = new IdentityMap();
        Add(map, ReplicaSet("api-5c6d7f8b9", "shop", "uid-rs-api", "api"));
        Add(map, Job("report-29384160", "ops", "uid-job-1", "report"));
        Add(map, Pod("api-5c6d7f8b9-abcde", "shop", "uid-p1", "10.244.1.1", "node-a", T0,
            Labels(("app", "api"), ("pod-template-hash", "5c6d7f8b9")), Owner("apps/v1", "ReplicaSet", "api-5c6d7f8b9", "uid-rs-api")));
        // ReplicaSet not in the snapshot: the pod-template-hash naming rule still finds the Deployment.
        Add(map, Pod("cart-6f5e4d3c2-zzzzz", "shop", "uid-p2", "10.244.1.2", "node-a", T0,
            Labels(("app", "cart"), ("pod-template-hash", "6f5e4d3c2")), Owner("apps/v1", "ReplicaSet", "cart-6f5e4d3c2", "uid-rs-cart")));
        Add(map, Pod("report-29384160-q7w8e", "ops", "uid-p3", "10.244.1.3", "node-a", T0,
            owners: Owner("batch/v1", "Job", "report-29384160", "uid-job-1")));
        Add(map, Pod("db-0", "shop", "uid-p4", "10.244.1.4", "node-a", T0, owners: Owner("apps/v1", "StatefulSet", "db", "uid-sts")));
        Add(map, Pod("fluentbit-8xk2l", "logging", "uid-p5", "10.244.1.5", "node-a", T0, owners: Owner("apps/v1", "DaemonSet", "fluentbit", "uid-ds")));
        Add(map, Pod("debug", "default", "uid-p6", "10.244.1.6", "node-a", T0));
        Add(map, Pod("migrate-x1", "ops", "uid-p7", "10.244.1.7", "node-a", T0, owners: Owner("batch/v1", "Job", "migrate", "uid-job-2")));
        map.Publish();

        (string, string) At(string ip)
        {
            var id = map.Resolve(NetAddress.Parse(ip), 0, Ns(T0.AddSeconds(30)));
            return (id.WorkloadKind, id.Workload);
        }
        Assert.Equal(("Deployment", "api"), At("10.244.1.1"));
        Assert.Equal(("Deployment", "cart"), At("10.244.1.2"));
        Assert.Equal(("CronJob", "report"), At("10.244.1.3"));
        Assert.Equal(("StatefulSet", "db"), At("10.244.1.4"));
        Assert.Equal(("DaemonSet", "fluentbit"), At("10.244.1.5"));
        Assert.Equal(("Pod", "debug"), At("10.244.1.6"));
        Assert.Equal(("Job", "migrate"), At("10.244.1.7"));
        Assert.Equal("app=api,pod-template-hash=5c6d7f8b9", map.Resolve(NetAddress.Parse("10.244.1.1"), 0, Ns(T0.AddSeconds(30))).Labels);
    }

    [Fact]
    public void NodesGiveZonesAndHostNetworkPodsResolveAsTheirNode()
    {
        var map = new IdentityMap();
        Add(map, Node("node-a", "eu-west-1a", "192.168.10.11", "uid-na"));
        Add(map, Node("node-b", "eu-west-1b", "192.168.10.12", "uid-nb"));
        Add(map, Node("node-c", "eu-west-1a", "192.168.10.13", "uid-nc"));
        Add(map, Pod("client", "shop", "uid-p1", "10.244.1.17", "node-a", T0));
        Add(map, Pod("server", "shop", "uid-p2", "10.244.2.9", "node-b", T0));
        Add(map, Pod("neighbour", "shop", "uid-p3", "10.244.3.4", "node-c", T0));
        Add(map, Pod("kube-proxy-abc", "kube-system", "uid-p4", "192.168.10.11", "node-a", T0, hostNetwork: true));
        map.Publish();
        long t = Ns(T0.AddMinutes(1));

        var enricher = new ConnectionEnricher(map);
        var locality = enricher.Enrich(PodIp, 40000, NetAddress.Parse("10.244.2.9"), 8080, t, out var client, out var server);
        Assert.Equal("client", client.Pod);
        Assert.Equal("eu-west-1a", client.Zone);
        Assert.Equal("server", server.Pod);
        Assert.Equal("eu-west-1b", server.Zone);
        Assert.Equal(Locality.CrossZone, locality);
        Assert.True(LocalityClassifier.IsCrossZone(client, server));

        Assert.Equal(Locality.CrossNode, enricher.Enrich(PodIp, 1, NetAddress.Parse("10.244.3.4"), 2, t, out _, out _));
        var nodeSide = map.Resolve(NetAddress.Parse("192.168.10.11"), 10250, t);
        Assert.Equal(EndpointKind.Node, nodeSide.Kind);
        Assert.Equal("node-a", nodeSide.Node);
        Assert.Equal(Locality.SameNode, LocalityClassifier.Classify(client, nodeSide));
        Assert.Equal(Locality.Unknown, LocalityClassifier.Classify(client, EndpointIdentity.Unknown));
    }

    [Fact]
    public void ConnectionRowsGetBothEndsZonesAndTheirLocality()
    {
        var map = new IdentityMap();
        Add(map, Node("node-a", "eu-west-1a", "192.168.10.11", "uid-na"));
        Add(map, Node("node-b", "eu-west-1b", "192.168.10.12", "uid-nb"));
        Add(map, Pod("client", "shop", "uid-p1", "10.244.1.17", "node-a", T0, labels: new System.Text.Json.Nodes.JsonObject { ["tier"] = "web", ["app"] = "cart" }));
        Add(map, Pod("server", "payments", "uid-p2", "10.244.2.9", "node-b", T0));
        map.Publish();
        var row = new TrafficStore.Ingest.Flows.ConnectionRecord
        {
            ClientIp = PodIp, ClientPort = 40000, ServerIp = NetAddress.Parse("10.244.2.9"), ServerPort = 8080,
            FirstTimestampNs = Ns(T0.AddMinutes(1)),
        };
        new ConnectionEnricher(map).Enrich(row);
        Assert.Equal(("client", "shop", "node-a", "eu-west-1a"), (row.Client.Pod, row.Client.Namespace, row.Client.Node, row.Client.Zone));
        Assert.Equal(("server", "payments", "node-b", "eu-west-1b"), (row.Server.Pod, row.Server.Namespace, row.Server.Node, row.Server.Zone));
        Assert.Equal("cross_zone", row.Locality);
        var columns = TrafficStore.Ingest.TcpAnalysis.ConnectionsTable.Definition;
        Assert.Equal("cross_zone", columns["locality"].FormatText(row));
        Assert.Equal("eu-west-1b", columns["server_zone"].FormatText(row));
        Assert.Equal("app=cart,tier=web", columns["client_labels"].FormatText(row));

        var unknown = new TrafficStore.Ingest.Flows.ConnectionRecord { ClientIp = NetAddress.Parse("203.0.113.9"), ServerIp = PodIp, FirstTimestampNs = Ns(T0.AddMinutes(1)) };
        new ConnectionEnricher(map).Enrich(unknown);
        Assert.Equal("", unknown.Locality);
        Assert.Equal("client", unknown.Server.Pod);
    }

    [Fact]
    public void PruneForgetsObjectsThatEndedBeforeTheHorizon()
    {
        var map = new IdentityMap();
        Add(map, Pod("gone", "ns", "uid-gone", "10.244.1.17", "node-a", T0, deleted: T0.AddMinutes(1)));
        Add(map, Pod("alive", "ns", "uid-alive", "10.244.1.18", "node-a", T0));
        map.Publish();
        Assert.True(map.Resolve(PodIp, 0, Ns(T0.AddSeconds(30))).IsKnown);

        Assert.Equal(0, map.Prune(Ns(T0)));
        Assert.Equal(1, map.Prune(Ns(T0.AddMinutes(2))));
        map.Publish();
        Assert.False(map.Resolve(PodIp, 0, Ns(T0.AddSeconds(30))).IsKnown);
        Assert.True(map.Resolve(NetAddress.Parse("10.244.1.18"), 0, Ns(T0.AddSeconds(30))).IsKnown);
        Assert.Equal(1, map.Statistics.Pods);
    }

    [Fact]
    public void EveryRowOfAConnectionCarriesTheIdentityOfItsFirstPacket()
    {
        // The client IP changes hands while the connection is open (a missed deletion): rows of the
        // connection resolved later must still name the pod that held the IP when it opened.
        var map = new IdentityMap();
        Add(map, Pod("old", "shop", "uid-old", "10.244.1.17", "node-a", T0));
        Add(map, Pod("new", "batch", "uid-new", "10.244.1.17", "node-a", T0.AddMinutes(5)));
        Add(map, Pod("server", "payments", "uid-s", "10.244.2.9", "node-a", T0));
        map.Publish();
        var server = NetAddress.Parse("10.244.2.9");
        var cache = new ConnectionIdentityCache(new ConnectionEnricher(map));

        var first = cache.Resolve(7, PodIp, 40000, server, 8080, Ns(T0.AddMinutes(4)));
        var later = cache.Resolve(7, PodIp, 40000, server, 8080, Ns(T0.AddMinutes(6)));
        Assert.Equal(("old", "shop"), (first.Client.Pod, first.Client.Namespace));
        Assert.Same(first.Client, later.Client);
        Assert.Equal("server", later.Server.Pod);

        var row = new TrafficStore.Ingest.Flows.ConnectionRecord
        {
            ConnectionId = 7, ClientIp = PodIp, ClientPort = 40000, ServerIp = server, ServerPort = 8080,
            FirstTimestampNs = Ns(T0.AddMinutes(6)),
        };
        cache.Enrich(row);
        Assert.Equal(("old", "server", "same_node"), (row.Client.Pod, row.Server.Pod, row.Locality));

        // Another connection opened after the hand-over resolves on its own; a forgotten one resolves again.
        Assert.Equal("new", cache.Resolve(8, PodIp, 40001, server, 8080, Ns(T0.AddMinutes(6))).Client.Pod);
        Assert.Equal(2, cache.Count);
        cache.Forget(7);
        Assert.Equal("new", cache.Resolve(7, PodIp, 40000, server, 8080, Ns(T0.AddMinutes(6))).Client.Pod);
    }

    [Fact]
    public void ResolveDoesNotAllocate()
    {
        var map = new IdentityMap();
        for (int i = 0; i < 200; i++)
            Add(map, Pod($"p{i}", "ns", $"uid-{i}", $"10.244.{i / 250}.{i % 250 + 1}", "node-a", T0));
        Add(map, Service("svc", "ns", "uid-svc", "10.96.0.10", [53], T0));
        map.Publish();
        var addresses = new[] { NetAddress.Parse("10.244.0.5"), NetAddress.Parse("10.96.0.10"), NetAddress.Parse("10.1.2.3") };
        long t = Ns(T0.AddMinutes(1));
        int known = 0;
        for (int i = 0; i < 100; i++) known += map.Resolve(addresses[i % 3], 53, t).IsKnown ? 1 : 0;

        long allocated = Allocations.LeastOf(3, () => { for (int i = 0; i < 100_000; i++) known += map.Resolve(addresses[i % 3], 53, t).IsKnown ? 1 : 0; });
        Assert.Equal(0, allocated);
        Assert.True(known > 0);
    }
}
