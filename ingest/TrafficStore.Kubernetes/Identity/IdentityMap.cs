using k8s;
using k8s.Models;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Identity;

/// <summary>Counters of an <see cref="IdentityMap"/>, for logs and tests.</summary>
public readonly record struct IdentityMapStatistics(
    int Pods, int Services, int EndpointSlices, int Nodes, int Addresses, int Intervals,
    long Publishes, long PrunedRecords, long RelistEnded);

/// <summary>
/// Resolves an IP (and port, for Service ClusterIPs) at a point in time to the Kubernetes identity
/// that held it then. Writers (snapshot loader, <see cref="Watch.ClusterWatcher"/>) apply objects
/// under a lock and then <see cref="Publish"/>; readers call <see cref="Resolve"/> without locking
/// against an immutable table swapped in atomically, so the packet path never waits or allocates.
/// </summary>
public sealed class IdentityMap
{
    private readonly Lock _gate = new();
    private readonly ClusterState _state = new();
    private IdentityTable _table = IdentityTable.Empty;
    private bool _dirty;
    private long _publishes;
    private long _pruned;
    private long _relistEnded;

    /// <summary>
    /// Who holds <paramref name="ip"/> at <paramref name="timestampNs"/> (ns since the Unix epoch):
    /// a Service when (ip, port) is a ClusterIP and port, else a pod, a node, or
    /// <see cref="EndpointIdentity.Unknown"/>. Allocation-free.
    /// </summary>
    public EndpointIdentity Resolve(NetAddress ip, ushort port, long timestampNs)
    {
        TryResolve(ip, port, timestampNs, out var identity);
        return identity;
    }

    public bool TryResolve(NetAddress ip, ushort port, long timestampNs, out EndpointIdentity identity)
    {
        var table = Volatile.Read(ref _table);
        if (port != 0 && table.TryResolve(new AddressKey(ip, port), timestampNs, out identity)) return true;
        return table.TryResolve(new AddressKey(ip, 0), timestampNs, out identity);
    }

    /// <summary>The pods the EndpointSlices of a service list now (as of the last publish).</summary>
    public IReadOnlyList<EndpointIdentity> BackendsOf(string @namespace, string service) =>
        Volatile.Read(ref _table).BackendsOf(@namespace, service);

    public bool IsDirty { get { lock (_gate) return _dirty; } }

    /// <summary>Rebuilds the lookup table from the objects applied so far and swaps it in.</summary>
    public void Publish()
    {
        lock (_gate)
        {
            var table = new IdentityTableBuilder(_state).Build();
            Volatile.Write(ref _table, table);
            _dirty = false;
            _publishes++;
        }
    }

    /// <summary>Publishes only if something changed since the last publish.</summary>
    public bool PublishIfDirty()
    {
        lock (_gate)
        {
            if (!_dirty) return false;
            Publish();
            return true;
        }
    }

    /// <summary>
    /// Forgets objects that ended before <paramref name="horizonNs"/>: packets older than that no
    /// longer resolve to them. This is what bounds memory under pod churn.
    /// </summary>
    public int Prune(long horizonNs)
    {
        lock (_gate)
        {
            int removed = _state.PruneEndedBefore(horizonNs);
            if (removed > 0) { _pruned += removed; _dirty = true; }
            return removed;
        }
    }

    public IdentityMapStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                var table = _table;
                return new IdentityMapStatistics(_state.Pods.Count, _state.Services.Count, _state.EndpointSlices.Count,
                    _state.Nodes.Count, table.AddressCount, table.IntervalCount, _publishes, _pruned, _relistEnded);
            }
        }
    }

    // ---- Writers. observedNs is when the change was seen (watch event time, list time, or snapshot time);
    // ---- object timestamps (creation, start, deletion) take precedence where the object has them.

    /// <summary>Applies one object of any supported kind (Pod, Service, EndpointSlice, Node, ReplicaSet, Job); returns false for other kinds.</summary>
    public bool Apply(WatchEventType type, IKubernetesObject<V1ObjectMeta> obj, long observedNs)
    {
        lock (_gate)
        {
            bool deleted = type == WatchEventType.Deleted;
            switch (obj)
            {
                case V1Pod pod:
                    if (deleted) _state.DeletePod(pod, observedNs); else _state.UpsertPod(pod, observedNs);
                    break;
                case V1Service service: Write(_state.Services, service, deleted, observedNs); break;
                case V1EndpointSlice slice: Write(_state.EndpointSlices, slice, deleted, observedNs); break;
                case V1Node node: Write(_state.Nodes, node, deleted, observedNs); break;
                case V1ReplicaSet rs: Write(_state.ReplicaSets, rs, deleted, observedNs); break;
                case V1Job job: Write(_state.Jobs, job, deleted, observedNs); break;
                default: return false;
            }
            _dirty = true;
            return true;
        }
    }

    private static void Write<T>(RecordSet<T> set, T obj, bool deleted, long observedNs) where T : IMetadata<V1ObjectMeta>
    {
        if (deleted) ClusterState.Delete(set, obj, obj.Metadata, observedNs);
        else ClusterState.Upsert(set, obj, obj.Metadata, observedNs);
    }

    /// <summary>
    /// Applies a complete list of one kind (after a list or relist): objects live in the map but absent
    /// from the list were deleted while nobody watched, and end at <paramref name="observedNs"/>.
    /// </summary>
    public void Replace<T>(IEnumerable<T> items, long observedNs) where T : IKubernetesObject<V1ObjectMeta>
    {
        lock (_gate)
        {
            int ended = typeof(T) switch
            {
                var t when t == typeof(V1Pod) => ClusterState.Replace(_state.Pods, items.Cast<V1Pod>(), p => p.Metadata, p => _state.UpsertPod(p, observedNs), observedNs),
                var t when t == typeof(V1Service) => ReplaceSimple(_state.Services, items.Cast<V1Service>(), observedNs),
                var t when t == typeof(V1EndpointSlice) => ReplaceSimple(_state.EndpointSlices, items.Cast<V1EndpointSlice>(), observedNs),
                var t when t == typeof(V1Node) => ReplaceSimple(_state.Nodes, items.Cast<V1Node>(), observedNs),
                var t when t == typeof(V1ReplicaSet) => ReplaceSimple(_state.ReplicaSets, items.Cast<V1ReplicaSet>(), observedNs),
                var t when t == typeof(V1Job) => ReplaceSimple(_state.Jobs, items.Cast<V1Job>(), observedNs),
                _ => throw new ArgumentException($"{typeof(T).Name} is not a kind the identity map uses.", nameof(items)),
            };
            _relistEnded += ended;
            _dirty = true;
        }
    }

    private static int ReplaceSimple<T>(RecordSet<T> set, IEnumerable<T> items, long observedNs) where T : IMetadata<V1ObjectMeta> =>
        ClusterState.Replace(set, items, i => i.Metadata, i => ClusterState.Upsert(set, i, i.Metadata, observedNs), observedNs);
}
