using System.Net;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Cluster;

/// <summary>What a workload speaks; decides which scenarios use it as a server.</summary>
public enum WorkloadProtocol { Http, Grpc, Tls, Dns, ClientOnly }

public sealed record ClusterNode(string Name, string Zone, IPAddress InternalIp, int Index, string Uid)
{
    public string PodCidr => $"10.244.{Index}.0/24";
    public string PodCidrV6 => $"fd00:10:244:{Index}::/64";
}

/// <summary>A Deployment, its one ReplicaSet and the Service in front of it.</summary>
public sealed record Workload(string Namespace, string Name, WorkloadProtocol Protocol, int ContainerPort, int ServicePort,
    string PortName, string TemplateHash, string Image)
{
    public string ReplicaSetName => $"{Name}-{TemplateHash}";
    public List<ClusterPod> Pods { get; } = new();
    public ClusterService? Service { get; set; }
    public string ReplicaSetUid { get; init; } = "";
    public string DnsName => $"{Service?.Name ?? Name}.{Namespace}.svc.cluster.local";
}

public sealed record ClusterPod(string Name, Workload Workload, ClusterNode Node, SimulatedHost Host, string Uid);

public sealed record ClusterService(string Name, string Namespace, Workload Workload, SimulatedHost ClusterIp, string Uid);

/// <summary>
/// The simulated cluster: nodes in three zones, Deployments with pods on 10.244.N.0/24 (and
/// fd00:10:244:N::/64), Services on 10.96.0.0/16 (and fd00:10:96::/112). Built from the
/// generator's seed, so the same seed gives the same cluster, the same addresses in the capture
/// and the same Kubernetes snapshot.
/// </summary>
public sealed class ClusterTopology
{
    private static readonly (string Ns, string Name, WorkloadProtocol Protocol, int ContainerPort, int ServicePort, string PortName, int Replicas, string Image)[] Catalog =
    {
        ("kube-system", "coredns", WorkloadProtocol.Dns, 53, 53, "dns", 2, "registry.k8s.io/coredns/coredns:v1.11.1"),
        ("shop", "frontend", WorkloadProtocol.Http, 8080, 80, "http", 3, "ghcr.io/example/frontend:2.4.1"),
        ("shop", "orders", WorkloadProtocol.Http, 8080, 80, "http", 2, "ghcr.io/example/orders:1.9.0"),
        ("shop", "catalog", WorkloadProtocol.Http, 8080, 80, "http", 2, "ghcr.io/example/catalog:3.0.2"),
        ("payments", "payments-api", WorkloadProtocol.Http, 8080, 80, "http", 2, "ghcr.io/example/payments-api:5.2.0"),
        ("shop", "inventory", WorkloadProtocol.Grpc, 50051, 50051, "grpc", 2, "ghcr.io/example/inventory:0.14.3"),
        ("payments", "ledger", WorkloadProtocol.Grpc, 50051, 50051, "grpc", 2, "ghcr.io/example/ledger:1.1.0"),
        ("auth", "auth", WorkloadProtocol.Tls, 8443, 443, "https", 2, "ghcr.io/example/auth:4.0.0"),
        ("shop", "checkout", WorkloadProtocol.Tls, 8443, 443, "https", 2, "ghcr.io/example/checkout:2.2.7"),
        ("shop", "loadgen", WorkloadProtocol.ClientOnly, 0, 0, "", 1, "ghcr.io/example/loadgen:1.0.0"),
        ("monitoring", "prometheus", WorkloadProtocol.ClientOnly, 9090, 0, "", 1, "quay.io/prometheus/prometheus:v2.53.0"),
    };

    private readonly Dictionary<SimulatedHost, int> _nextPort = new();

    public DateTimeOffset CreatedAt { get; }
    public IReadOnlyList<ClusterNode> Nodes { get; }
    public IReadOnlyList<Workload> Workloads { get; }
    public IReadOnlyList<ClusterPod> Pods { get; }
    public IReadOnlyList<ClusterService> Services { get; }

    /// <summary>The pods that open connections (everything but CoreDNS).</summary>
    public IReadOnlyList<ClusterPod> Clients { get; }

    /// <summary>kube-dns: the resolver every pod asks (10.96.0.10).</summary>
    public ClusterService Dns => Services.First(s => s.Workload.Protocol == WorkloadProtocol.Dns);

    /// <summary>A host on no network we model: the target of the SYN that is never answered.</summary>
    public SimulatedHost Unreachable { get; }

    public ClusterTopology(Random rng, DateTimeOffset createdAt)
    {
        CreatedAt = createdAt;
        string[] zones = { "eu-west-1a", "eu-west-1b", "eu-west-1c" };
        var nodes = new List<ClusterNode>();
        for (int i = 0; i < 3; i++)
            nodes.Add(new ClusterNode($"worker-{i + 1}", zones[i], IPAddress.Parse($"172.18.0.{i + 2}"), i + 1, Uid(rng)));
        Nodes = nodes;

        var gatewayMac = new byte[] { 0x0A, 0x58, 0x0A, 0xF4, 0x00, 0x01 };
        var workloads = new List<Workload>();
        var pods = new List<ClusterPod>();
        var services = new List<ClusterService>();
        int podOnNode = 0, serviceIndex = 0;
        var nextHost = new int[nodes.Count];
        foreach (var c in Catalog)
        {
            var workload = new Workload(c.Ns, c.Name, c.Protocol, c.ContainerPort, c.ServicePort, c.PortName, Hash(rng, 10), c.Image)
            {
                ReplicaSetUid = Uid(rng),
            };
            for (int r = 0; r < c.Replicas; r++)
            {
                ClusterNode node = nodes[podOnNode++ % nodes.Count];
                int host = 10 + nextHost[node.Index - 1]++;
                var ip = IPAddress.Parse($"10.244.{node.Index}.{host}");
                var ip6 = IPAddress.Parse($"fd00:10:244:{node.Index}::{host:x}");
                // Pod veth MACs on a kubenet/bridge CNI are derived from the IP (0a:58:IP).
                var mac = new byte[] { 0x0A, 0x58, 10, 244, (byte)node.Index, (byte)host };
                string name = $"{workload.ReplicaSetName}-{Hash(rng, 5)}";
                var pod = new ClusterPod(name, workload, node, new SimulatedHost(name, mac, ip, ip6), Uid(rng));
                workload.Pods.Add(pod);
                pods.Add(pod);
            }
            if (c.ServicePort != 0)
            {
                serviceIndex++;
                // kube-dns sits at the conventional 10.96.0.10; others follow from 10.96.N.M.
                IPAddress clusterIp = c.Protocol == WorkloadProtocol.Dns
                    ? IPAddress.Parse("10.96.0.10")
                    : IPAddress.Parse($"10.96.{rng.Next(1, 255)}.{rng.Next(1, 255)}");
                IPAddress clusterIp6 = IPAddress.Parse(c.Protocol == WorkloadProtocol.Dns ? "fd00:10:96::a" : $"fd00:10:96::{serviceIndex * 0x100 + rng.Next(1, 255):x}");
                string serviceName = c.Protocol == WorkloadProtocol.Dns ? "kube-dns" : c.Name;
                var service = new ClusterService(serviceName, c.Ns, workload,
                    new SimulatedHost(serviceName, gatewayMac, clusterIp, clusterIp6), Uid(rng));
                workload.Service = service;
                services.Add(service);
            }
            workloads.Add(workload);
        }
        Workloads = workloads;
        Pods = pods;
        Services = services;
        Clients = pods.Where(p => p.Workload.Protocol != WorkloadProtocol.Dns).ToList();
        Unreachable = new SimulatedHost("unreachable", gatewayMac, IPAddress.Parse("10.96.254.254"), IPAddress.Parse("fd00:10:96::fefe"));
    }

    public IEnumerable<Workload> WorkloadsSpeaking(WorkloadProtocol protocol) => Workloads.Where(w => w.Protocol == protocol);

    /// <summary>Linux-style ephemeral ports (32768-60999), handed out in turn per client host.</summary>
    public ushort NextEphemeralPort(SimulatedHost host)
    {
        _nextPort.TryGetValue(host, out int last);
        int port = last == 0 ? 32768 + (host.Ipv4[3] * 97 % 20000) : last + 1;
        if (port > 60999) port = 32768;
        _nextPort[host] = port;
        return (ushort)port;
    }

    private static string Uid(Random rng)
    {
        Span<byte> b = stackalloc byte[16];
        rng.NextBytes(b);
        b[6] = (byte)(b[6] & 0x0F | 0x40); // version 4
        b[8] = (byte)(b[8] & 0x3F | 0x80); // RFC 4122 variant
        return Convert.ToHexString(b).ToLowerInvariant().Insert(20, "-").Insert(16, "-").Insert(12, "-").Insert(8, "-");
    }

    /// <summary>Kubernetes' "safe" alphabet for generated name suffixes (no vowels, no 0/1/3).</summary>
    private static string Hash(Random rng, int length)
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(length, rng, (s, r) => { for (int i = 0; i < s.Length; i++) s[i] = alphabet[r.Next(alphabet.Length)]; });
    }
}
