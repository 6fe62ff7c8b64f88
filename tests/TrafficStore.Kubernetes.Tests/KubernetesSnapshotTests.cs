using System.Text;
using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Identity;
using TrafficStore.Kubernetes.Snapshot;
using static TrafficStore.Kubernetes.Tests.ClusterJson;

namespace TrafficStore.Kubernetes.Tests;

public class KubernetesSnapshotTests
{
    private static string KubectlOutput() => List(
        Pod("frontend-6b7c8d9f4-t5r6e", "web", "uid-fe", "10.244.1.20", "node-a", T0,
            Labels(("app", "frontend"), ("pod-template-hash", "6b7c8d9f4"), ("tier", "edge")),
            Owner("apps/v1", "ReplicaSet", "frontend-6b7c8d9f4", "uid-rs-fe")),
        Pod("redis-0", "web", "uid-redis", "10.244.2.30", "node-b", T0, Labels(("app", "redis")),
            Owner("apps/v1", "StatefulSet", "redis", "uid-sts-redis")),
        Service("frontend", "web", "uid-svc-fe", "10.96.100.1", [80], T0.AddDays(-5)),
        Service("redis", "web", "uid-svc-redis", "10.96.100.2", [6379], T0.AddDays(-5)),
        EndpointSlice("frontend-x8k2p", "web", "uid-es-fe", "frontend", [("10.244.1.20", "frontend-6b7c8d9f4-t5r6e", "node-a")], 8080),
        EndpointSlice("redis-m3n4b", "web", "uid-es-redis", "redis", [("10.244.2.30", "redis-0", "node-b")], 6379),
        Node("node-a", "us-east-1a", "172.31.5.10", "uid-na"),
        Node("node-b", "us-east-1c", "172.31.6.11", "uid-nb"),
        ReplicaSet("frontend-6b7c8d9f4", "web", "uid-rs-fe", "frontend"));

    [Fact]
    public void LoadsKubectlListOfMixedKinds()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ts-k8s-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, KubectlOutput());
        try
        {
            var map = KubernetesSnapshot.Load(path);
            long t = Ns(T0.AddMinutes(3));

            var fe = map.Resolve(NetAddress.Parse("10.244.1.20"), 51000, t);
            Assert.Equal(EndpointKind.Pod, fe.Kind);
            Assert.Equal("frontend-6b7c8d9f4-t5r6e", fe.Pod);
            Assert.Equal("web", fe.Namespace);
            Assert.Equal(("Deployment", "frontend"), (fe.WorkloadKind, fe.Workload));
            Assert.Equal("node-a", fe.Node);
            Assert.Equal("us-east-1a", fe.Zone);
            Assert.Equal("frontend", fe.Service);
            Assert.Equal("app=frontend,pod-template-hash=6b7c8d9f4,tier=edge", fe.Labels);

            var viaClusterIp = map.Resolve(NetAddress.Parse("10.96.100.2"), 6379, t);
            Assert.Equal(("redis", "web"), (viaClusterIp.Service, viaClusterIp.Namespace));
            var redis = map.Resolve(NetAddress.Parse("10.244.2.30"), 6379, t);
            Assert.Equal(("StatefulSet", "redis", "us-east-1c"), (redis.WorkloadKind, redis.Workload, redis.Zone));
            Assert.Equal("node-b", map.Resolve(NetAddress.Parse("172.31.6.11"), 10250, t).Node);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AcceptsSeveralDocumentsApiListsAndCountsSkippedKinds()
    {
        var map = new IdentityMap();
        string second = List(
            Pod("frontend-6b7c8d9f4-new01", "web", "uid-fe-2", "10.244.1.21", "node-a", T0.AddMinutes(30)),
            new System.Text.Json.Nodes.JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "ConfigMap",
                ["metadata"] = Meta("settings", "web", "uid-cm", T0), ["data"] = new System.Text.Json.Nodes.JsonObject { ["a"] = "b" },
            });
        string apiPodList = ApiList("PodList", "4711", [Pod("batch-1", "jobs", "uid-b1", "10.244.3.3", "node-b", T0)]);
        var summary = KubernetesSnapshot.LoadInto(map, Encoding.UTF8.GetBytes(KubectlOutput() + "\n" + second + "\n" + apiPodList));
        map.Publish();

        Assert.Equal(3, summary.Documents);
        Assert.Equal(4, summary.Pods);
        Assert.Equal(2, summary.Services);
        Assert.Equal(2, summary.EndpointSlices);
        Assert.Equal(2, summary.Nodes);
        Assert.Equal(1, summary.ReplicaSets);
        Assert.Equal(1, summary.SkippedKinds["ConfigMap"]);

        Assert.Equal("batch-1", map.Resolve(NetAddress.Parse("10.244.3.3"), 0, Ns(T0.AddMinutes(1))).Pod);
        Assert.Equal("frontend-6b7c8d9f4-new01", map.Resolve(NetAddress.Parse("10.244.1.21"), 0, Ns(T0.AddMinutes(31))).Pod);
        // The second pod started after the first snapshot's time: earlier packets must not resolve to it.
        Assert.False(map.Resolve(NetAddress.Parse("10.244.1.21"), 0, Ns(T0.AddMinutes(29))).IsKnown);
    }
}
