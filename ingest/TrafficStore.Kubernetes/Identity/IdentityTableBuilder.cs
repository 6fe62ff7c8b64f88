using System.Net;
using System.Text;
using k8s.Models;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Identity;

/// <summary>
/// Compiles the <see cref="ClusterState"/> into an <see cref="IdentityTable"/>: resolves owner chains,
/// zones and service membership once per object, then lays out each address's validity intervals.
/// Runs off the hot path (on publish), so it is written for clarity, not speed.
/// </summary>
internal sealed class IdentityTableBuilder
{
    public const string ZoneLabel = "topology.kubernetes.io/zone";
    public const string LegacyZoneLabel = "failure-domain.beta.kubernetes.io/zone";
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string PodTemplateHashLabel = "pod-template-hash";

    private readonly ClusterState _state;
    private readonly Dictionary<string, string> _zoneByNode = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, string), V1ObjectMeta> _replicaSets = new();
    private readonly Dictionary<(string, string), V1ObjectMeta> _jobs = new();
    private readonly Dictionary<(string Namespace, string Ip), SortedSet<string>> _servicesByEndpoint = new();
    private readonly Dictionary<AddressKey, List<ValidityInterval>> _intervals = new();

    public IdentityTableBuilder(ClusterState state) => _state = state;

    public IdentityTable Build()
    {
        IndexNodes();
        IndexOwners();
        IndexEndpointSlices();

        var livePodByIp = new Dictionary<(string, string), EndpointIdentity>();
        foreach (var record in _state.Pods.Records) AddPod(record, livePodByIp);
        foreach (var record in _state.Services.Records) AddService(record);
        foreach (var record in _state.Nodes.Records) AddNode(record);

        var table = new Dictionary<AddressKey, ValidityInterval[]>(_intervals.Count);
        foreach (var (key, list) in _intervals) table[key] = Flatten(list);
        return new IdentityTable(table, BuildBackends(livePodByIp));
    }

    private void IndexNodes()
    {
        foreach (var record in _state.Nodes.Records)
        {
            var meta = record.Object.Metadata;
            if (meta?.Name is null) continue;
            _zoneByNode[meta.Name] = ZoneOf(meta.Labels);
        }
    }

    private static string ZoneOf(IDictionary<string, string>? labels)
    {
        if (labels is null) return "";
        if (labels.TryGetValue(ZoneLabel, out var zone)) return zone;
        return labels.TryGetValue(LegacyZoneLabel, out zone) ? zone : "";
    }

    private void IndexOwners()
    {
        foreach (var record in _state.ReplicaSets.Records)
            if (record.Object.Metadata is { Name: not null } m) _replicaSets[(m.NamespaceProperty ?? "", m.Name)] = m;
        foreach (var record in _state.Jobs.Records)
            if (record.Object.Metadata is { Name: not null } m) _jobs[(m.NamespaceProperty ?? "", m.Name)] = m;
    }

    private void IndexEndpointSlices()
    {
        foreach (var record in _state.EndpointSlices.Records)
        {
            if (!record.IsLive) continue;
            var slice = record.Object;
            string ns = slice.Metadata?.NamespaceProperty ?? "";
            if (slice.Metadata?.Labels is null || !slice.Metadata.Labels.TryGetValue(ServiceNameLabel, out var service)) continue;
            if (slice.Endpoints is null) continue;
            foreach (var endpoint in slice.Endpoints)
            {
                if (endpoint.Addresses is null) continue;
                foreach (var address in endpoint.Addresses)
                {
                    string canonical = Canonical(address);
                    if (canonical.Length == 0) continue;
                    if (!_servicesByEndpoint.TryGetValue((ns, canonical), out var set))
                        _servicesByEndpoint[(ns, canonical)] = set = new SortedSet<string>(StringComparer.Ordinal);
                    set.Add(service);
                }
            }
        }
    }

    private static string Canonical(string? ip) =>
        ip is not null && IPAddress.TryParse(ip, out var parsed) ? parsed.ToString() : "";

    private void AddPod(ObjectRecord<V1Pod> record, Dictionary<(string, string), EndpointIdentity> livePodByIp)
    {
        var pod = record.Object;
        // hostNetwork pods carry their node's IP: attributing the node's traffic to one of them would be wrong.
        if (pod.Spec?.HostNetwork == true) return;
        var ips = PodIps(pod);
        if (ips.Count == 0) return;

        var meta = pod.Metadata ?? new V1ObjectMeta();
        string ns = meta.NamespaceProperty ?? "";
        string services = record.LastServices;
        if (record.IsLive)
        {
            services = ServicesOf(ns, ips);
            record.LastServices = services;
        }
        var (workload, kind) = ResolveOwner(meta);
        string node = pod.Spec?.NodeName ?? "";
        var identity = new EndpointIdentity(EndpointKind.Pod, meta.Name ?? "", ns, workload, kind, node,
            _zoneByNode.TryGetValue(node, out var zone) ? zone : "", services, FormatLabels(meta.Labels));

        foreach (var ip in ips)
        {
            Add(new AddressKey(ip.Address, 0), new ValidityInterval(record.StartNs, record.EndNs, identity));
            if (record.IsLive) livePodByIp[(ns, ip.Text)] = identity;
        }
    }

    private static List<(NetAddress Address, string Text)> PodIps(V1Pod pod)
    {
        var result = new List<(NetAddress, string)>(2);
        if (pod.Status?.PodIPs is { Count: > 0 } podIps)
        {
            foreach (var p in podIps) AddIp(result, p.Ip);
        }
        else
        {
            AddIp(result, pod.Status?.PodIP);
        }
        return result;
    }

    private static void AddIp(List<(NetAddress, string)> into, string? text)
    {
        if (text is null || !IPAddress.TryParse(text, out var ip)) return;
        var address = NetAddress.FromIPAddress(ip);
        foreach (var (existing, _) in into) if (existing == address) return;
        into.Add((address, ip.ToString()));
    }

    private string ServicesOf(string ns, List<(NetAddress Address, string Text)> ips)
    {
        SortedSet<string>? all = null;
        foreach (var (_, text) in ips)
        {
            if (!_servicesByEndpoint.TryGetValue((ns, text), out var set)) continue;
            if (all is null) all = new SortedSet<string>(set, StringComparer.Ordinal);
            else all.UnionWith(set);
        }
        return all is null ? "" : string.Join(',', all);
    }

    /// <summary>
    /// Follows the controller owner chain to the workload: Pod → ReplicaSet → Deployment,
    /// Pod → Job → CronJob, Pod → StatefulSet/DaemonSet/other. A pod without an owner is its own workload.
    /// </summary>
    internal (string Workload, string Kind) ResolveOwner(V1ObjectMeta meta)
    {
        var owner = ControllerOf(meta);
        if (owner is null) return (meta.Name ?? "", "Pod");
        string ns = meta.NamespaceProperty ?? "";
        switch (owner.Kind)
        {
            case "ReplicaSet":
                if (_replicaSets.TryGetValue((ns, owner.Name), out var rs))
                    return ControllerOf(rs) is { } deployment ? (deployment.Name, deployment.Kind) : (owner.Name, owner.Kind);
                // The ReplicaSet is not known (snapshot without replicasets, or already pruned): a
                // Deployment names its ReplicaSets "<deployment>-<pod-template-hash>", and pods carry the hash.
                if (meta.Labels is not null && meta.Labels.TryGetValue(PodTemplateHashLabel, out var hash)
                    && owner.Name.Length > hash.Length + 1 && owner.Name.EndsWith("-" + hash, StringComparison.Ordinal))
                    return (owner.Name[..^(hash.Length + 1)], "Deployment");
                return (owner.Name, owner.Kind);
            case "Job":
                if (_jobs.TryGetValue((ns, owner.Name), out var job) && ControllerOf(job) is { } cronJob)
                    return (cronJob.Name, cronJob.Kind);
                return (owner.Name, owner.Kind);
            default:
                return (owner.Name, owner.Kind);
        }
    }

    private static V1OwnerReference? ControllerOf(V1ObjectMeta meta)
    {
        if (meta.OwnerReferences is null || meta.OwnerReferences.Count == 0) return null;
        foreach (var reference in meta.OwnerReferences)
            if (reference.Controller == true) return reference;
        return meta.OwnerReferences[0];
    }

    /// <summary>"k=v,k=v" sorted by key (ordinal) so that the same labels always give the same string.</summary>
    internal static string FormatLabels(IDictionary<string, string>? labels)
    {
        if (labels is null || labels.Count == 0) return "";
        var keys = new List<string>(labels.Keys);
        keys.Sort(StringComparer.Ordinal);
        var text = new StringBuilder();
        foreach (var key in keys)
        {
            if (text.Length > 0) text.Append(',');
            text.Append(key).Append('=').Append(labels[key]);
        }
        return text.ToString();
    }

    private void AddService(ObjectRecord<V1Service> record)
    {
        var service = record.Object;
        var meta = service.Metadata ?? new V1ObjectMeta();
        var identity = new EndpointIdentity(EndpointKind.Service, "", meta.NamespaceProperty ?? "", "", "", "", "",
            meta.Name ?? "", FormatLabels(meta.Labels));

        var ips = new List<string>();
        if (service.Spec?.ClusterIPs is { Count: > 0 } clusterIps) ips.AddRange(clusterIps);
        else if (service.Spec?.ClusterIP is { } clusterIp) ips.Add(clusterIp);

        foreach (var text in ips)
        {
            // Headless services ("None") have no virtual IP; their pods resolve as pods.
            if (!IPAddress.TryParse(text, out var ip)) continue;
            var address = NetAddress.FromIPAddress(ip);
            Add(new AddressKey(address, 0), new ValidityInterval(record.StartNs, record.EndNs, identity));
            if (service.Spec?.Ports is null) continue;
            foreach (var port in service.Spec.Ports)
                if (port.Port is > 0 and <= ushort.MaxValue)
                    Add(new AddressKey(address, (ushort)port.Port), new ValidityInterval(record.StartNs, record.EndNs, identity));
        }
    }

    private void AddNode(ObjectRecord<V1Node> record)
    {
        var node = record.Object;
        string name = node.Metadata?.Name ?? "";
        var identity = new EndpointIdentity(EndpointKind.Node, "", "", "", "", name, ZoneOf(node.Metadata?.Labels), "", "");
        if (node.Status?.Addresses is null) return;
        foreach (var address in node.Status.Addresses)
        {
            if (address.Type is not ("InternalIP" or "ExternalIP")) continue;
            if (!IPAddress.TryParse(address.Address, out var ip)) continue;
            Add(new AddressKey(NetAddress.FromIPAddress(ip), 0), new ValidityInterval(record.StartNs, record.EndNs, identity));
        }
    }

    private void Add(AddressKey key, ValidityInterval interval)
    {
        if (interval.EndNs <= interval.StartNs) return;
        if (!_intervals.TryGetValue(key, out var list)) _intervals[key] = list = new List<ValidityInterval>(1);
        list.Add(interval);
    }

    /// <summary>
    /// Sorts by start and clips overlaps: when an address is handed to a new owner while the old one
    /// still looks open (its deletion was missed, or it is still terminating), the newcomer wins from its start.
    /// </summary>
    private static ValidityInterval[] Flatten(List<ValidityInterval> list)
    {
        list.Sort(static (a, b) => a.StartNs != b.StartNs ? a.StartNs.CompareTo(b.StartNs) : a.EndNs.CompareTo(b.EndNs));
        var result = new List<ValidityInterval>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            var current = list[i];
            if (i + 1 < list.Count && current.EndNs > list[i + 1].StartNs)
                current = current with { EndNs = list[i + 1].StartNs };
            if (current.EndNs > current.StartNs) result.Add(current);
        }
        return result.ToArray();
    }

    private Dictionary<(string, string), EndpointIdentity[]> BuildBackends(Dictionary<(string, string), EndpointIdentity> livePodByIp)
    {
        var backends = new Dictionary<(string, string), List<EndpointIdentity>>();
        foreach (var ((ns, ip), services) in _servicesByEndpoint)
        {
            if (!livePodByIp.TryGetValue((ns, ip), out var pod)) continue;
            foreach (var service in services)
            {
                if (!backends.TryGetValue((ns, service), out var list)) backends[(ns, service)] = list = [];
                if (!list.Contains(pod)) list.Add(pod);
            }
        }
        var result = new Dictionary<(string, string), EndpointIdentity[]>(backends.Count);
        foreach (var (key, list) in backends)
        {
            list.Sort(static (a, b) => string.CompareOrdinal(a.Pod, b.Pod));
            result[key] = list.ToArray();
        }
        return result;
    }
}
