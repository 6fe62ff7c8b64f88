namespace TrafficStore.Kubernetes.Identity;

/// <summary>
/// One Kubernetes object as last seen, with the interval during which it existed. Deleted objects
/// stay as tombstones (EndNs set) until pruned, because packets captured earlier still have to
/// resolve to them: pod IPs are reused within minutes.
/// </summary>
internal sealed class ObjectRecord<T>(T obj, long startNs)
{
    public const long Open = long.MaxValue;

    public T Object { get; set; } = obj;
    public long StartNs { get; set; } = startNs;
    public long EndNs { get; set; } = Open;
    public bool IsLive => EndNs == Open;

    /// <summary>Pods only: the services that listed this pod the last time it was live, kept for its tombstone.</summary>
    public string LastServices { get; set; } = "";
}

/// <summary>The records of one kind, keyed by UID (namespace/name when an object has no UID).</summary>
internal sealed class RecordSet<T>
{
    private readonly Dictionary<string, ObjectRecord<T>> _records = new(StringComparer.Ordinal);

    public IEnumerable<ObjectRecord<T>> Records => _records.Values;
    public int Count => _records.Count;

    public ObjectRecord<T> Upsert(string key, T obj, long startNs)
    {
        if (_records.TryGetValue(key, out var record))
        {
            record.Object = obj;
            // An object that reappears under the same UID (a relist after we marked it gone) is live again.
            record.EndNs = ObjectRecord<T>.Open;
            if (startNs < record.StartNs) record.StartNs = startNs;
            return record;
        }
        record = new ObjectRecord<T>(obj, startNs);
        _records[key] = record;
        return record;
    }

    public ObjectRecord<T>? Get(string key) => _records.TryGetValue(key, out var r) ? r : null;

    /// <summary>Marks every live record whose key is not in <paramref name="present"/> as ended at <paramref name="endNs"/>.</summary>
    public int EndMissing(HashSet<string> present, long endNs)
    {
        int ended = 0;
        foreach (var (key, record) in _records)
        {
            if (record.IsLive && !present.Contains(key))
            {
                record.EndNs = Math.Max(record.StartNs, endNs);
                ended++;
            }
        }
        return ended;
    }

    public int PruneEndedBefore(long horizonNs)
    {
        List<string>? doomed = null;
        foreach (var (key, record) in _records)
            if (!record.IsLive && record.EndNs < horizonNs) (doomed ??= []).Add(key);
        if (doomed is null) return 0;
        foreach (var key in doomed) _records.Remove(key);
        return doomed.Count;
    }
}
