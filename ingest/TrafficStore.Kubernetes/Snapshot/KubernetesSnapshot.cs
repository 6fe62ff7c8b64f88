using System.Text.Json;
using k8s;
using k8s.Models;
using TrafficStore.Kubernetes.Identity;

namespace TrafficStore.Kubernetes.Snapshot;

/// <summary>What a snapshot load found, per kind, and what it skipped.</summary>
public sealed record SnapshotSummary(int Pods, int Services, int EndpointSlices, int Nodes, int ReplicaSets, int Jobs,
    int Documents, IReadOnlyDictionary<string, int> SkippedKinds);

/// <summary>
/// Offline identity: loads the JSON that
/// <c>kubectl get pods,services,endpointslices,nodes,replicasets,jobs -A -o json</c> prints (a v1 List
/// with items of mixed kinds) into an <see cref="IdentityMap"/>. A file may hold several such documents
/// one after another (for example snapshots taken before and after a capture), and single objects are
/// accepted too. Objects get their own creation/start/deletion times; objects without them count as
/// present for all time, since a snapshot says nothing about when they appeared.
/// </summary>
public static class KubernetesSnapshot
{
    public static IdentityMap Load(params string[] paths)
    {
        var map = new IdentityMap();
        foreach (var path in paths) LoadInto(map, File.ReadAllBytes(path));
        map.Publish();
        return map;
    }

    public static IdentityMap LoadFromJson(string json)
    {
        var map = new IdentityMap();
        LoadInto(map, System.Text.Encoding.UTF8.GetBytes(json));
        map.Publish();
        return map;
    }

    /// <summary>Adds every object in <paramref name="utf8Json"/> to <paramref name="map"/> (without publishing).</summary>
    public static SnapshotSummary LoadInto(IdentityMap map, ReadOnlySpan<byte> utf8Json)
    {
        var counter = new Counter();
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions
        {
            AllowMultipleValues = true,
            CommentHandling = JsonCommentHandling.Skip,
        });
        while (reader.Read())
        {
            using var document = JsonDocument.ParseValue(ref reader);
            counter.Documents++;
            AddElement(map, document.RootElement, counter);
        }
        return counter.ToSummary();
    }

    private static void AddElement(IdentityMap map, JsonElement element, Counter counter)
    {
        if (element.ValueKind != JsonValueKind.Object) return;
        string kind = element.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : "";
        // "List" from kubectl; "PodList", "ServiceList", … from the API directly.
        if (element.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array && kind.EndsWith("List", StringComparison.Ordinal))
        {
            string itemKind = kind.Length > 4 ? kind[..^4] : "";
            foreach (var item in items.EnumerateArray())
            {
                // API lists omit kind on their items: take it from the list's kind.
                if (!item.TryGetProperty("kind", out _) && itemKind.Length > 0)
                    AddObject(map, itemKind, item, counter);
                else
                    AddElement(map, item, counter);
            }
            return;
        }
        AddObject(map, kind, element, counter);
    }

    private static void AddObject(IdentityMap map, string kind, JsonElement item, Counter counter)
    {
        string json = item.GetRawText();
        IKubernetesObject<V1ObjectMeta>? obj = kind switch
        {
            "Pod" => KubernetesJson.Deserialize<V1Pod>(json),
            "Service" => KubernetesJson.Deserialize<V1Service>(json),
            "EndpointSlice" => KubernetesJson.Deserialize<V1EndpointSlice>(json),
            "Node" => KubernetesJson.Deserialize<V1Node>(json),
            "ReplicaSet" => KubernetesJson.Deserialize<V1ReplicaSet>(json),
            "Job" => KubernetesJson.Deserialize<V1Job>(json),
            _ => null,
        };
        if (obj is null)
        {
            counter.Skipped[kind] = counter.Skipped.GetValueOrDefault(kind) + 1;
            return;
        }
        map.Apply(WatchEventType.Added, obj, long.MinValue);
        switch (obj)
        {
            case V1Pod: counter.Pods++; break;
            case V1Service: counter.Services++; break;
            case V1EndpointSlice: counter.EndpointSlices++; break;
            case V1Node: counter.Nodes++; break;
            case V1ReplicaSet: counter.ReplicaSets++; break;
            case V1Job: counter.Jobs++; break;
        }
    }

    private sealed class Counter
    {
        public int Pods, Services, EndpointSlices, Nodes, ReplicaSets, Jobs, Documents;
        public Dictionary<string, int> Skipped { get; } = new(StringComparer.Ordinal);
        public SnapshotSummary ToSummary() => new(Pods, Services, EndpointSlices, Nodes, ReplicaSets, Jobs, Documents, Skipped);
    }
}
