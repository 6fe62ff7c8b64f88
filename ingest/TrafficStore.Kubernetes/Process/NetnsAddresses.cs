using System.Net;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Process;

/// <summary>
/// The local addresses of one network namespace, read through a process in it: IPv4 from
/// /proc/PID/net/fib_trie (the leaves marked "/32 host LOCAL"), IPv6 from /proc/PID/net/if_inet6.
/// Needed to tell which pod a socket bound to 0.0.0.0 or :: serves: every pod has its own
/// namespace and many bind the same wildcard port.
/// <code>
/// fib_trie:                                if_inet6 (address in network order, then ifindex, prefix, scope, flags, name):
///   +-- 10.244.1.0/24 2 0 2                   fd000000000000000000000000000011 02 40 00 80 eth0
///      |-- 10.244.1.17
///         /32 host LOCAL
/// </code>
/// </summary>
public static class NetnsAddresses
{
    public static IEnumerable<NetAddress> ParseFibTrie(string text)
    {
        var seen = new HashSet<NetAddress>();
        string? leaf = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            int leafMarker = line.IndexOf("|-- ", StringComparison.Ordinal);
            if (leafMarker >= 0)
            {
                leaf = line[(leafMarker + 4)..].Trim();
                continue;
            }
            if (leaf is not null && line.StartsWith("/32 host LOCAL", StringComparison.Ordinal)
                && IPAddress.TryParse(leaf, out var ip) && seen.Add(NetAddress.FromIPAddress(ip)))
                yield return NetAddress.FromIPAddress(ip);
        }
    }

    public static IEnumerable<NetAddress> ParseIfInet6(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length < 32) continue;
            byte[] bytes;
            try { bytes = Convert.FromHexString(line.AsSpan(0, 32)); }
            catch (FormatException) { continue; }
            yield return NetAddress.FromBytes(bytes);
        }
    }
}
