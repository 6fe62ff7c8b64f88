using System.Text.Json;

namespace TrafficStore.Ingest.Synthetic.Cluster;

/// <summary>
/// Writes the cluster as <c>kubectl get pods,services,endpointslices,nodes -A -o json</c> would
/// print it: a v1 <c>List</c> of Pod, Service, EndpointSlice (discovery.k8s.io/v1) and Node
/// objects, with the fields the Kubernetes mapper reads (labels, ownerReferences, podIP(s),
/// hostIP, nodeName, clusterIP(s), ports, selector, endpoints, zone labels).
/// </summary>
public static class KubernetesSnapshotWriter
{
    public static void Write(ClusterTopology topology, Stream output)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        string created = topology.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        w.WriteStartObject();
        w.WriteString("apiVersion", "v1");
        w.WriteString("kind", "List");
        w.WriteStartObject("metadata");
        w.WriteString("resourceVersion", "");
        w.WriteEndObject();
        w.WriteStartArray("items");
        foreach (ClusterPod pod in topology.Pods) WritePod(w, pod, created);
        foreach (ClusterService service in topology.Services) WriteService(w, service, created);
        foreach (ClusterService service in topology.Services)
        {
            WriteEndpointSlice(w, service, created, ipv6: false);
            WriteEndpointSlice(w, service, created, ipv6: true);
        }
        foreach (ClusterNode node in topology.Nodes) WriteNode(w, node, created);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static string ToJson(ClusterTopology topology)
    {
        using var stream = new MemoryStream();
        Write(topology, stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WritePod(Utf8JsonWriter w, ClusterPod pod, string created)
    {
        Workload wl = pod.Workload;
        w.WriteStartObject();
        w.WriteString("apiVersion", "v1");
        w.WriteString("kind", "Pod");
        w.WriteStartObject("metadata");
        w.WriteString("name", pod.Name);
        w.WriteString("namespace", wl.Namespace);
        w.WriteString("uid", pod.Uid);
        w.WriteString("creationTimestamp", created);
        w.WriteString("generateName", wl.ReplicaSetName + "-");
        w.WriteStartObject("labels");
        w.WriteString("app", wl.Name);
        w.WriteString("app.kubernetes.io/name", wl.Name);
        w.WriteString("pod-template-hash", wl.TemplateHash);
        w.WriteEndObject();
        w.WriteStartArray("ownerReferences");
        w.WriteStartObject();
        w.WriteString("apiVersion", "apps/v1");
        w.WriteString("kind", "ReplicaSet");
        w.WriteString("name", wl.ReplicaSetName);
        w.WriteString("uid", wl.ReplicaSetUid);
        w.WriteBoolean("controller", true);
        w.WriteBoolean("blockOwnerDeletion", true);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("spec");
        w.WriteString("nodeName", pod.Node.Name);
        w.WriteString("serviceAccountName", "default");
        w.WriteStartArray("containers");
        w.WriteStartObject();
        w.WriteString("name", wl.Name);
        w.WriteString("image", wl.Image);
        w.WriteStartArray("ports");
        if (wl.ContainerPort != 0)
        {
            w.WriteStartObject();
            if (wl.PortName.Length > 0) w.WriteString("name", wl.PortName);
            w.WriteNumber("containerPort", wl.ContainerPort);
            w.WriteString("protocol", wl.Protocol == WorkloadProtocol.Dns ? "UDP" : "TCP");
            w.WriteEndObject();
            if (wl.Protocol == WorkloadProtocol.Dns)
            {
                w.WriteStartObject();
                w.WriteString("name", "dns-tcp");
                w.WriteNumber("containerPort", 53);
                w.WriteString("protocol", "TCP");
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartObject("status");
        w.WriteString("phase", "Running");
        w.WriteString("hostIP", pod.Node.InternalIp.ToString());
        w.WriteStartArray("hostIPs");
        w.WriteStartObject(); w.WriteString("ip", pod.Node.InternalIp.ToString()); w.WriteEndObject();
        w.WriteEndArray();
        w.WriteString("podIP", pod.Host.Ipv4Address.ToString());
        w.WriteStartArray("podIPs");
        w.WriteStartObject(); w.WriteString("ip", pod.Host.Ipv4Address.ToString()); w.WriteEndObject();
        w.WriteStartObject(); w.WriteString("ip", pod.Host.Ipv6Address!.ToString()); w.WriteEndObject();
        w.WriteEndArray();
        w.WriteString("startTime", created);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteService(Utf8JsonWriter w, ClusterService service, string created)
    {
        Workload wl = service.Workload;
        w.WriteStartObject();
        w.WriteString("apiVersion", "v1");
        w.WriteString("kind", "Service");
        w.WriteStartObject("metadata");
        w.WriteString("name", service.Name);
        w.WriteString("namespace", service.Namespace);
        w.WriteString("uid", service.Uid);
        w.WriteString("creationTimestamp", created);
        w.WriteStartObject("labels");
        w.WriteString("app", wl.Name);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("spec");
        w.WriteString("type", "ClusterIP");
        w.WriteString("clusterIP", service.ClusterIp.Ipv4Address.ToString());
        w.WriteStartArray("clusterIPs");
        w.WriteStringValue(service.ClusterIp.Ipv4Address.ToString());
        w.WriteStringValue(service.ClusterIp.Ipv6Address!.ToString());
        w.WriteEndArray();
        w.WriteStartArray("ipFamilies");
        w.WriteStringValue("IPv4");
        w.WriteStringValue("IPv6");
        w.WriteEndArray();
        w.WriteString("ipFamilyPolicy", "PreferDualStack");
        w.WriteStartArray("ports");
        foreach (var (name, protocol) in ServicePorts(wl))
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteNumber("port", wl.ServicePort);
            w.WriteString("protocol", protocol);
            w.WriteNumber("targetPort", wl.ContainerPort);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("selector");
        w.WriteString("app", wl.Name);
        w.WriteEndObject();
        w.WriteString("sessionAffinity", "None");
        w.WriteEndObject();
        w.WriteStartObject("status");
        w.WriteStartObject("loadBalancer");
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static IEnumerable<(string Name, string Protocol)> ServicePorts(Workload wl) =>
        wl.Protocol == WorkloadProtocol.Dns
            ? new[] { ("dns", "UDP"), ("dns-tcp", "TCP") }
            : new[] { (wl.PortName, "TCP") };

    private static void WriteEndpointSlice(Utf8JsonWriter w, ClusterService service, string created, bool ipv6)
    {
        Workload wl = service.Workload;
        w.WriteStartObject();
        w.WriteString("apiVersion", "discovery.k8s.io/v1");
        w.WriteString("kind", "EndpointSlice");
        w.WriteString("addressType", ipv6 ? "IPv6" : "IPv4");
        w.WriteStartObject("metadata");
        w.WriteString("name", $"{service.Name}-{(ipv6 ? "v6" : "v4")}{service.Uid[..5]}");
        w.WriteString("namespace", service.Namespace);
        w.WriteString("uid", service.Uid[..24] + (ipv6 ? "000000000006" : "000000000004"));
        w.WriteString("creationTimestamp", created);
        w.WriteString("generateName", service.Name + "-");
        w.WriteStartObject("labels");
        w.WriteString("kubernetes.io/service-name", service.Name);
        w.WriteString("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io");
        w.WriteEndObject();
        w.WriteStartArray("ownerReferences");
        w.WriteStartObject();
        w.WriteString("apiVersion", "v1");
        w.WriteString("kind", "Service");
        w.WriteString("name", service.Name);
        w.WriteString("uid", service.Uid);
        w.WriteBoolean("controller", true);
        w.WriteBoolean("blockOwnerDeletion", true);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartArray("endpoints");
        foreach (ClusterPod pod in wl.Pods)
        {
            w.WriteStartObject();
            w.WriteStartArray("addresses");
            w.WriteStringValue(ipv6 ? pod.Host.Ipv6Address!.ToString() : pod.Host.Ipv4Address.ToString());
            w.WriteEndArray();
            w.WriteStartObject("conditions");
            w.WriteBoolean("ready", true);
            w.WriteBoolean("serving", true);
            w.WriteBoolean("terminating", false);
            w.WriteEndObject();
            w.WriteString("nodeName", pod.Node.Name);
            w.WriteString("zone", pod.Node.Zone);
            w.WriteStartObject("targetRef");
            w.WriteString("kind", "Pod");
            w.WriteString("name", pod.Name);
            w.WriteString("namespace", wl.Namespace);
            w.WriteString("uid", pod.Uid);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("ports");
        foreach (var (name, protocol) in ServicePorts(wl))
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteNumber("port", wl.ContainerPort);
            w.WriteString("protocol", protocol);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter w, ClusterNode node, string created)
    {
        w.WriteStartObject();
        w.WriteString("apiVersion", "v1");
        w.WriteString("kind", "Node");
        w.WriteStartObject("metadata");
        w.WriteString("name", node.Name);
        w.WriteString("uid", node.Uid);
        w.WriteString("creationTimestamp", created);
        w.WriteStartObject("labels");
        w.WriteString("kubernetes.io/hostname", node.Name);
        w.WriteString("kubernetes.io/os", "linux");
        w.WriteString("kubernetes.io/arch", "amd64");
        w.WriteString("node.kubernetes.io/instance-type", "m6i.xlarge");
        w.WriteString("topology.kubernetes.io/region", "eu-west-1");
        w.WriteString("topology.kubernetes.io/zone", node.Zone);
        w.WriteEndObject();
        w.WriteEndObject();
        w.WriteStartObject("spec");
        w.WriteString("podCIDR", node.PodCidr);
        w.WriteStartArray("podCIDRs");
        w.WriteStringValue(node.PodCidr);
        w.WriteStringValue(node.PodCidrV6);
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteStartObject("status");
        w.WriteStartArray("addresses");
        w.WriteStartObject(); w.WriteString("type", "InternalIP"); w.WriteString("address", node.InternalIp.ToString()); w.WriteEndObject();
        w.WriteStartObject(); w.WriteString("type", "Hostname"); w.WriteString("address", node.Name); w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
