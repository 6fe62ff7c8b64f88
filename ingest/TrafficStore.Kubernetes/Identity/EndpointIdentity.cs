namespace TrafficStore.Kubernetes.Identity;

/// <summary>What an address resolved to.</summary>
public enum EndpointKind : byte
{
    Unknown = 0,
    /// <summary>A pod IP (not a hostNetwork pod: those share their node's IP and resolve as the node).</summary>
    Pod = 1,
    /// <summary>A Service ClusterIP (traffic seen before kube-proxy's DNAT).</summary>
    Service = 2,
    /// <summary>A node's InternalIP/ExternalIP (kubelet, hostNetwork pods, NodePorts).</summary>
    Node = 3,
}

/// <summary>
/// The Kubernetes identity of one end of a connection at one point in time. Instances are built
/// off the hot path when the <see cref="IdentityMap"/> publishes and are shared and immutable, so
/// handing one out per packet allocates nothing. Absent parts are empty strings, never null, so
/// string columns can be written straight from them.
/// </summary>
public sealed class EndpointIdentity
{
    /// <summary>The identity of an address nothing is known about.</summary>
    public static readonly EndpointIdentity Unknown = new(EndpointKind.Unknown, "", "", "", "", "", "", "", "");

    public EndpointIdentity(EndpointKind kind, string pod, string @namespace, string workload, string workloadKind,
        string node, string zone, string service, string labels)
    {
        Kind = kind;
        Pod = pod ?? "";
        Namespace = @namespace ?? "";
        Workload = workload ?? "";
        WorkloadKind = workloadKind ?? "";
        Node = node ?? "";
        Zone = zone ?? "";
        Service = service ?? "";
        Labels = labels ?? "";
    }

    public EndpointKind Kind { get; }
    public string Pod { get; }
    public string Namespace { get; }
    /// <summary>Top of the controller owner chain: Deployment, StatefulSet, DaemonSet, CronJob, Job, …; the pod itself when it has no owner.</summary>
    public string Workload { get; }
    public string WorkloadKind { get; }
    public string Node { get; }
    /// <summary>The node's topology.kubernetes.io/zone label.</summary>
    public string Zone { get; }
    /// <summary>For a ClusterIP the service's name; for a pod the services whose EndpointSlices list it, sorted, comma-separated.</summary>
    public string Service { get; }
    /// <summary>The pod's (for a ClusterIP: the service's) labels as "k=v,k=v", sorted by key (ordinal), so equal label sets give equal strings.</summary>
    public string Labels { get; }

    public bool IsKnown => Kind != EndpointKind.Unknown;

    public override string ToString() => Kind switch
    {
        EndpointKind.Pod => $"pod {Namespace}/{Pod} ({WorkloadKind} {Workload}) on {Node}",
        EndpointKind.Service => $"service {Namespace}/{Service}",
        EndpointKind.Node => $"node {Node}",
        _ => "unknown",
    };
}
