using k8s.Models;

namespace TrafficStore.Kubernetes.Identity;

/// <summary>
/// The objects the identity map is built from, as last seen, with tombstones for deleted ones.
/// Not thread-safe: <see cref="IdentityMap"/> guards it with its lock.
/// </summary>
internal sealed class ClusterState
{
    public RecordSet<V1Pod> Pods { get; } = new();
    public RecordSet<V1Service> Services { get; } = new();
    public RecordSet<V1EndpointSlice> EndpointSlices { get; } = new();
    public RecordSet<V1Node> Nodes { get; } = new();
    public RecordSet<V1ReplicaSet> ReplicaSets { get; } = new();
    public RecordSet<V1Job> Jobs { get; } = new();

    public static string KeyOf(V1ObjectMeta? meta)
    {
        if (meta is null) return "";
        if (!string.IsNullOrEmpty(meta.Uid)) return meta.Uid;
        return meta.NamespaceProperty + "/" + meta.Name;
    }

    /// <summary>When the object began to exist: its creationTimestamp, else when we first saw it.</summary>
    public static long CreatedNs(V1ObjectMeta? meta, long observedNs) =>
        KubeTime.ToUnixNs(meta?.CreationTimestamp) ?? observedNs;

    /// <summary>
    /// When a pod's IP became its own: status.startTime (kubelet accepted the pod; the sandbox and its
    /// IP come after), else creationTimestamp.
    /// </summary>
    public static long PodStartNs(V1Pod pod, long observedNs) =>
        KubeTime.ToUnixNs(pod.Status?.StartTime) ?? CreatedNs(pod.Metadata, observedNs);

    /// <summary>
    /// When a pod stopped holding its IP, if it has: a pod in phase Succeeded/Failed released it when its
    /// last container finished; a terminating pod holds it until its deletionTimestamp at the latest.
    /// </summary>
    public static long? PodEndNs(V1Pod pod)
    {
        string? phase = pod.Status?.Phase;
        if (phase is "Succeeded" or "Failed")
        {
            long? last = null;
            if (pod.Status?.ContainerStatuses is { } statuses)
            {
                foreach (var status in statuses)
                {
                    long? finished = KubeTime.ToUnixNs(status.State?.Terminated?.FinishedAt);
                    if (finished is { } f && (last is null || f > last)) last = f;
                }
            }
            if (last is not null) return last;
        }
        return KubeTime.ToUnixNs(pod.Metadata?.DeletionTimestamp);
    }

    public void UpsertPod(V1Pod pod, long observedNs)
    {
        var record = Pods.Upsert(KeyOf(pod.Metadata), pod, PodStartNs(pod, observedNs));
        // status.startTime appears only once the pod is scheduled: it replaces the creation time
        // the record may have started with, so that the interval begins when the IP can exist.
        record.StartNs = PodStartNs(pod, record.StartNs);
        if (PodEndNs(pod) is { } end) record.EndNs = Math.Max(record.StartNs, end);
    }

    public void DeletePod(V1Pod pod, long observedNs)
    {
        var record = Pods.Upsert(KeyOf(pod.Metadata), pod, PodStartNs(pod, observedNs));
        // The DELETED event can come before the grace period ends (containers exited early): the IP
        // is free from then on, so the earlier of the two times wins.
        long end = PodEndNs(pod) is { } e ? Math.Min(e, observedNs) : observedNs;
        record.EndNs = Math.Max(record.StartNs, end);
    }

    public static void Upsert<T>(RecordSet<T> set, T obj, V1ObjectMeta? meta, long observedNs) =>
        set.Upsert(KeyOf(meta), obj, CreatedNs(meta, observedNs));

    public static void Delete<T>(RecordSet<T> set, T obj, V1ObjectMeta? meta, long observedNs)
    {
        var record = set.Upsert(KeyOf(meta), obj, CreatedNs(meta, observedNs));
        record.EndNs = Math.Max(record.StartNs, observedNs);
    }

    /// <summary>A full list: upsert every item; live objects missing from it were deleted while we were not watching.</summary>
    public static int Replace<T>(RecordSet<T> set, IEnumerable<T> items, Func<T, V1ObjectMeta?> meta,
        Action<T> upsert, long observedNs)
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            present.Add(KeyOf(meta(item)));
            upsert(item);
        }
        return set.EndMissing(present, observedNs);
    }

    public int PruneEndedBefore(long horizonNs) =>
        Pods.PruneEndedBefore(horizonNs) + Services.PruneEndedBefore(horizonNs)
        + EndpointSlices.PruneEndedBefore(horizonNs) + Nodes.PruneEndedBefore(horizonNs)
        + ReplicaSets.PruneEndedBefore(horizonNs) + Jobs.PruneEndedBefore(horizonNs);
}
