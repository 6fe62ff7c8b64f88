using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Identity;

/// <summary>An address, and a port for Service ClusterIPs (0 = any port).</summary>
internal readonly struct AddressKey(NetAddress address, ushort port) : IEquatable<AddressKey>
{
    public readonly NetAddress Address = address;
    public readonly ushort Port = port;

    public bool Equals(AddressKey other) => Port == other.Port && Address.High == other.Address.High
        && Address.Low == other.Address.Low && Address.IsV6 == other.Address.IsV6;

    public override bool Equals(object? obj) => obj is AddressKey other && Equals(other);

    // Hand-rolled rather than HashCode.Combine: this is on the per-connection path, and pod IPs
    // differ in their low bits, which the multiply spreads across the word.
    public override int GetHashCode()
    {
        ulong mixed = (Address.Low ^ (Address.High * 0x9E3779B97F4A7C15UL) ^ ((ulong)Port << 48)) * 0x9E3779B97F4A7C15UL;
        return (int)(mixed >> 32) ^ (Address.IsV6 ? 1 : 0);
    }
}

/// <summary>[StartNs, EndNs) during which an address belonged to <see cref="Identity"/>.</summary>
internal readonly record struct ValidityInterval(long StartNs, long EndNs, EndpointIdentity Identity);

/// <summary>
/// The immutable lookup structure the hot path reads: per address a sorted, non-overlapping array
/// of validity intervals. Built whole by <see cref="IdentityTableBuilder"/> and swapped in atomically.
/// </summary>
internal sealed class IdentityTable
{
    public static readonly IdentityTable Empty = new(new Dictionary<AddressKey, ValidityInterval[]>(),
        new Dictionary<(string, string), EndpointIdentity[]>());

    private readonly Dictionary<AddressKey, ValidityInterval[]> _intervals;
    private readonly Dictionary<(string Namespace, string Service), EndpointIdentity[]> _backends;

    public IdentityTable(Dictionary<AddressKey, ValidityInterval[]> intervals,
        Dictionary<(string, string), EndpointIdentity[]> backends)
    {
        _intervals = intervals;
        _backends = backends;
    }

    public int AddressCount => _intervals.Count;

    public int IntervalCount
    {
        get
        {
            int n = 0;
            foreach (var list in _intervals.Values) n += list.Length;
            return n;
        }
    }

    public bool TryResolve(in AddressKey key, long timestampNs, out EndpointIdentity identity)
    {
        if (_intervals.TryGetValue(key, out var intervals))
        {
            // Binary search for the last interval starting at or before the timestamp.
            int lo = 0, hi = intervals.Length - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                if (intervals[mid].StartNs <= timestampNs) { found = mid; lo = mid + 1; }
                else hi = mid - 1;
            }
            if (found >= 0 && timestampNs < intervals[found].EndNs)
            {
                identity = intervals[found].Identity;
                return true;
            }
        }
        identity = EndpointIdentity.Unknown;
        return false;
    }

    public IReadOnlyList<EndpointIdentity> BackendsOf(string @namespace, string service) =>
        _backends.TryGetValue((@namespace, service), out var pods) ? pods : [];
}
