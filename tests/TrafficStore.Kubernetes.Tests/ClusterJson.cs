using System.Text.Json.Nodes;

namespace TrafficStore.Kubernetes.Tests;

/// <summary>
/// Kubernetes objects as the API server and `kubectl get -o json` print them (field names and shapes
/// from the v1 API reference), trimmed to what identity resolution reads plus some realistic noise.
/// </summary>
internal static class ClusterJson
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    public static long Ns(DateTimeOffset t) => (t.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;
    public static string Rfc3339(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

    public static JsonObject Meta(string name, string? ns, string uid, DateTimeOffset created, string resourceVersion = "1000",
        JsonObject? labels = null, JsonArray? owners = null, DateTimeOffset? deleted = null)
    {
        var meta = new JsonObject
        {
            ["name"] = name,
            ["uid"] = uid,
            ["resourceVersion"] = resourceVersion,
            ["creationTimestamp"] = Rfc3339(created),
        };
        if (ns is not null) meta["namespace"] = ns;
        if (labels is not null) meta["labels"] = labels;
        if (owners is not null) meta["ownerReferences"] = owners;
        if (deleted is { } d)
        {
            meta["deletionTimestamp"] = Rfc3339(d);
            meta["deletionGracePeriodSeconds"] = 30;
        }
        return meta;
    }

    public static JsonArray Owner(string apiVersion, string kind, string name, string uid) =>
    [
        new JsonObject
        {
            ["apiVersion"] = apiVersion, ["kind"] = kind, ["name"] = name, ["uid"] = uid,
            ["controller"] = true, ["blockOwnerDeletion"] = true,
        },
    ];

    public static JsonObject Pod(string name, string ns, string uid, string ip, string node, DateTimeOffset start,
        JsonObject? labels = null, JsonArray? owners = null, DateTimeOffset? deleted = null, bool hostNetwork = false,
        string phase = "Running", string resourceVersion = "1000")
    {
        var spec = new JsonObject
        {
            ["nodeName"] = node,
            ["containers"] = new JsonArray(new JsonObject { ["name"] = "app", ["image"] = "registry.example/app:1.4.2" }),
            ["restartPolicy"] = "Always",
            ["serviceAccountName"] = "default",
        };
        if (hostNetwork) spec["hostNetwork"] = true;
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = Meta(name, ns, uid, start.AddSeconds(-2), resourceVersion, labels, owners, deleted),
            ["spec"] = spec,
            ["status"] = new JsonObject
            {
                ["phase"] = phase,
                ["hostIP"] = "192.168.10.11",
                ["podIP"] = ip,
                ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
                ["startTime"] = Rfc3339(start),
                ["qosClass"] = "BestEffort",
            },
        };
    }

    public static JsonObject Service(string name, string ns, string uid, string clusterIp, int[] ports, DateTimeOffset created)
    {
        var portArray = new JsonArray();
        foreach (int port in ports)
            portArray.Add(new JsonObject { ["name"] = $"p{port}", ["port"] = port, ["protocol"] = "TCP", ["targetPort"] = port });
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Service",
            ["metadata"] = Meta(name, ns, uid, created, labels: new JsonObject { ["app"] = name }),
            ["spec"] = new JsonObject
            {
                ["type"] = "ClusterIP",
                ["clusterIP"] = clusterIp,
                ["clusterIPs"] = new JsonArray(clusterIp),
                ["ipFamilies"] = new JsonArray("IPv4"),
                ["ports"] = portArray,
                ["selector"] = new JsonObject { ["app"] = name },
                ["sessionAffinity"] = "None",
            },
            ["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() },
        };
    }

    public static JsonObject EndpointSlice(string name, string ns, string uid, string service, (string Ip, string Pod, string Node)[] endpoints, int port)
    {
        var array = new JsonArray();
        foreach (var (ip, pod, node) in endpoints)
        {
            array.Add(new JsonObject
            {
                ["addresses"] = new JsonArray(ip),
                ["conditions"] = new JsonObject { ["ready"] = true, ["serving"] = true, ["terminating"] = false },
                ["nodeName"] = node,
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["name"] = pod, ["namespace"] = ns, ["uid"] = "uid-" + pod },
            });
        }
        return new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["addressType"] = "IPv4",
            ["metadata"] = Meta(name, ns, uid, T0.AddDays(-1), labels: new JsonObject
            {
                ["kubernetes.io/service-name"] = service,
                ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io",
            }, owners: Owner("v1", "Service", service, "uid-svc-" + service)),
            ["endpoints"] = array,
            ["ports"] = new JsonArray(new JsonObject { ["name"] = $"p{port}", ["port"] = port, ["protocol"] = "TCP" }),
        };
    }

    public static JsonObject Node(string name, string zone, string internalIp, string uid)
    {
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Node",
            ["metadata"] = Meta(name, null, uid, T0.AddDays(-30), labels: new JsonObject
            {
                ["kubernetes.io/hostname"] = name,
                ["kubernetes.io/os"] = "linux",
                ["topology.kubernetes.io/region"] = "eu-west-1",
                ["topology.kubernetes.io/zone"] = zone,
            }),
            ["spec"] = new JsonObject { ["podCIDR"] = "10.244.1.0/24" },
            ["status"] = new JsonObject
            {
                ["addresses"] = new JsonArray(
                    new JsonObject { ["type"] = "InternalIP", ["address"] = internalIp },
                    new JsonObject { ["type"] = "Hostname", ["address"] = name }),
            },
        };
    }

    public static JsonObject ReplicaSet(string name, string ns, string uid, string deployment) => new()
    {
        ["apiVersion"] = "apps/v1",
        ["kind"] = "ReplicaSet",
        ["metadata"] = Meta(name, ns, uid, T0.AddDays(-2), owners: Owner("apps/v1", "Deployment", deployment, "uid-deploy-" + deployment)),
        ["spec"] = new JsonObject { ["replicas"] = 2, ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = deployment } } },
        ["status"] = new JsonObject { ["replicas"] = 2 },
    };

    public static JsonObject Job(string name, string ns, string uid, string cronJob) => new()
    {
        ["apiVersion"] = "batch/v1",
        ["kind"] = "Job",
        ["metadata"] = Meta(name, ns, uid, T0.AddHours(-1), owners: Owner("batch/v1", "CronJob", cronJob, "uid-cron-" + cronJob)),
        ["spec"] = new JsonObject { ["backoffLimit"] = 6 },
        ["status"] = new JsonObject(),
    };

    /// <summary>`kubectl get … -o json` output: a v1 List of mixed kinds.</summary>
    public static string List(params JsonObject[] items) => new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "List",
        ["items"] = new JsonArray(items),
        ["metadata"] = new JsonObject { ["resourceVersion"] = "" },
    }.ToJsonString();

    /// <summary>An API server list response (PodList, …): items carry no kind.</summary>
    public static string ApiList(string kind, string resourceVersion, IEnumerable<JsonObject> items, string? continueToken = null)
    {
        var array = new JsonArray();
        foreach (var item in items)
        {
            var copy = item.DeepClone().AsObject();
            copy.Remove("kind");
            copy.Remove("apiVersion");
            array.Add(copy);
        }
        var meta = new JsonObject { ["resourceVersion"] = resourceVersion };
        if (continueToken is not null) meta["continue"] = continueToken;
        return new JsonObject { ["kind"] = kind, ["apiVersion"] = "v1", ["metadata"] = meta, ["items"] = array }.ToJsonString();
    }

    public static JsonObject Labels(params (string Key, string Value)[] pairs)
    {
        var o = new JsonObject();
        foreach (var (k, v) in pairs) o[k] = v;
        return o;
    }
}
