using System.Diagnostics.CodeAnalysis;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Kubernetes.Process;

public readonly record struct SocketProcessResolverStatistics(long Hits, long Misses, long Refreshes, long RateLimitedMisses, int CachedSockets);

/// <summary>
/// Finds the local process (and its container) behind a socket on this node, for live capture:
/// /proc/net/{tcp,udp}{,6} map local address:port to a socket inode, /proc/PID/fd/* links
/// ("socket:[inode]") map the inode to a process, and /proc/PID/{comm,cmdline,cgroup} describe it.
/// Walking every fd of every process is expensive, so results are cached and a miss triggers a
/// refresh at most once per <c>minRefreshInterval</c>. In the agent DaemonSet the host's /proc is
/// mounted read-only (e.g. at /host/proc) and passed as <c>procRoot</c>; with hostPID the PIDs are the host's.
/// </summary>
public sealed class SocketProcessResolver
{
    private static readonly (string File, SocketProtocol Protocol)[] Tables =
    [
        ("net/tcp", SocketProtocol.Tcp), ("net/tcp6", SocketProtocol.Tcp),
        ("net/udp", SocketProtocol.Udp), ("net/udp6", SocketProtocol.Udp),
    ];

    private static readonly NetAddress AnyV4 = NetAddress.V4(0);
    private static readonly NetAddress AnyV6 = NetAddress.Parse("::");

    private readonly string _procRoot;
    private readonly TimeSpan _minRefreshInterval;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private Dictionary<LocalSocket, ProcessIdentity> _cache = new();
    private long _lastRefreshTicks = long.MinValue;
    private long _hits, _misses, _refreshes, _rateLimited;

    public SocketProcessResolver(string procRoot = "/proc", TimeSpan? minRefreshInterval = null, TimeProvider? time = null)
    {
        _procRoot = procRoot;
        _minRefreshInterval = minRefreshInterval ?? TimeSpan.FromSeconds(1);
        _time = time ?? TimeProvider.System;
    }

    public SocketProcessResolverStatistics Statistics
    {
        get { lock (_gate) return new(_hits, _misses, _refreshes, _rateLimited, _cache.Count); }
    }

    /// <summary>
    /// The process owning the local socket bound to <paramref name="address"/>:<paramref name="port"/>
    /// (a socket bound to the wildcard address matches any local address). False when no process
    /// owns it, or on a miss within the refresh interval of the last refresh.
    /// </summary>
    public bool TryResolve(SocketProtocol protocol, NetAddress address, ushort port, [MaybeNullWhen(false)] out ProcessIdentity identity)
    {
        lock (_gate)
        {
            if (Lookup(protocol, address, port, out identity)) { _hits++; return true; }
            _misses++;
            long now = _time.GetTimestamp();
            if (_lastRefreshTicks != long.MinValue && _time.GetElapsedTime(_lastRefreshTicks, now) < _minRefreshInterval)
            {
                _rateLimited++;
                return false;
            }
            RefreshLocked(now);
            return Lookup(protocol, address, port, out identity);
        }
    }

    /// <summary>Rereads the socket tables and process fds now, regardless of the rate limit.</summary>
    public void Refresh()
    {
        lock (_gate) RefreshLocked(_time.GetTimestamp());
    }

    private bool Lookup(SocketProtocol protocol, NetAddress address, ushort port, [MaybeNullWhen(false)] out ProcessIdentity identity)
    {
        if (_cache.TryGetValue(new LocalSocket(protocol, address, port), out identity)) return true;
        if (_cache.TryGetValue(new LocalSocket(protocol, address.IsV6 ? AnyV6 : AnyV4, port), out identity)) return true;
        // A socket on "::" without IPV6_V6ONLY also accepts IPv4.
        return !address.IsV6 && _cache.TryGetValue(new LocalSocket(protocol, AnyV6, port), out identity);
    }

    private void RefreshLocked(long nowTimestamp)
    {
        _lastRefreshTicks = nowTimestamp;
        _refreshes++;

        var pidDirectories = EnumeratePidDirectories().ToList();
        var socketsByInode = ReadSocketTables(pidDirectories);

        var cache = new Dictionary<LocalSocket, ProcessIdentity>();
        var processes = new Dictionary<int, ProcessIdentity?>();
        foreach (var (pid, pidDirectory) in pidDirectories)
        {
            foreach (long inode in SocketInodesOf(pidDirectory))
            {
                if (!socketsByInode.TryGetValue(inode, out var sockets)) continue;
                if (!processes.TryGetValue(pid, out var process)) processes[pid] = process = Describe(pidDirectory, pid);
                if (process is null) continue;
                // A socket inherited across fork() is open in several processes: the first (lowest PID,
                // usually the parent that created it) is kept.
                foreach (var socket in sockets) cache.TryAdd(socket, process);
            }
        }
        _cache = cache;
    }

    /// <summary>
    /// Socket inode → the local ends it answers for, over every network namespace: each pod has its
    /// own, and /proc/PID/net shows the namespace of PID, so one process per namespace is read. A
    /// socket bound to the wildcard address in a pod's namespace is expanded to that namespace's own
    /// addresses (the pod IP); only in the resolver's own namespace (the node's, for a hostNetwork
    /// agent) does it stay a wildcard that matches any address.
    /// </summary>
    private Dictionary<long, List<LocalSocket>> ReadSocketTables(List<(int Pid, string Directory)> pidDirectories)
    {
        string? ownNamespace = NamespaceOf(Path.Combine(_procRoot, "self"));
        var readerByNamespace = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, directory) in pidDirectories)
        {
            string? ns = NamespaceOf(directory);
            if (ns is not null) readerByNamespace.TryAdd(ns, directory);
        }

        var socketsByInode = new Dictionary<long, List<LocalSocket>>();
        if (readerByNamespace.Count == 0)
        {
            // No readable ns links (kernel without them, or no permission): the own namespace only.
            AddTables(socketsByInode, _procRoot, localAddresses: null);
            return socketsByInode;
        }
        foreach (var (ns, directory) in readerByNamespace)
        {
            bool own = ownNamespace is null || ns == ownNamespace;
            AddTables(socketsByInode, directory, own ? null : LocalAddressesOf(directory));
        }
        return socketsByInode;
    }

    private static void AddTables(Dictionary<long, List<LocalSocket>> socketsByInode, string directory, List<NetAddress>? localAddresses)
    {
        foreach (var (file, protocol) in Tables)
        {
            string? text = TryReadText(Path.Combine(directory, file));   // no tcp6/udp6 when IPv6 is disabled
            if (text is null) continue;
            foreach (var (socket, inode) in ProcNetTable.Parse(text, protocol))
            {
                if (!socketsByInode.TryGetValue(inode, out var list)) socketsByInode[inode] = list = new List<LocalSocket>(1);
                bool wildcard = socket.Address == AnyV4 || socket.Address == AnyV6;
                if (!wildcard || localAddresses is null)
                {
                    list.Add(socket);
                    continue;
                }
                foreach (var address in localAddresses)
                {
                    // "0.0.0.0" accepts IPv4 only; "::" accepts IPv6, and IPv4 too unless IPV6_V6ONLY
                    // (which /proc does not show).
                    if (socket.Address.IsV6 || !address.IsV6) list.Add(socket with { Address = address });
                }
            }
        }
    }

    private static List<NetAddress> LocalAddressesOf(string pidDirectory)
    {
        var addresses = new List<NetAddress>();
        if (TryReadText(Path.Combine(pidDirectory, "net/fib_trie")) is { } fib) addresses.AddRange(NetnsAddresses.ParseFibTrie(fib));
        if (TryReadText(Path.Combine(pidDirectory, "net/if_inet6")) is { } inet6) addresses.AddRange(NetnsAddresses.ParseIfInet6(inet6));
        return addresses;
    }

    /// <summary>"net:[4026531840]": the namespace's identity (its nsfs inode), or null when unreadable.</summary>
    private static string? NamespaceOf(string pidDirectory)
    {
        try { return new FileInfo(Path.Combine(pidDirectory, "ns", "net")).LinkTarget; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static string? TryReadText(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private List<(int Pid, string Directory)> EnumeratePidDirectories()
    {
        var pids = new List<(int, string)>();
        try
        {
            foreach (var directory in Directory.EnumerateDirectories(_procRoot))
                if (int.TryParse(Path.GetFileName(directory), out int pid)) pids.Add((pid, directory));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        pids.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return pids;
    }

    private static List<long> SocketInodesOf(string pidDirectory)
    {
        var inodes = new List<long>();
        try
        {
            foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(pidDirectory, "fd")))
            {
                string? target;
                try { target = new FileInfo(fd).LinkTarget; }
                catch (IOException) { continue; }        // the fd closed while we looked
                catch (UnauthorizedAccessException) { continue; }
                // "socket:[123456]"
                if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']')) continue;
                if (long.TryParse(target.AsSpan(8, target.Length - 9), out long inode)) inodes.Add(inode);
            }
        }
        catch (IOException) { }                          // the process exited
        catch (UnauthorizedAccessException) { }          // another user's process without CAP_SYS_PTRACE
        return inodes;
    }

    private static ProcessIdentity? Describe(string pidDirectory, int pid)
    {
        try
        {
            string comm = File.ReadAllText(Path.Combine(pidDirectory, "comm")).TrimEnd('\n');
            string cmdline = File.ReadAllText(Path.Combine(pidDirectory, "cmdline")).TrimEnd('\0').Replace('\0', ' ');
            string cgroup = "";
            try { cgroup = File.ReadAllText(Path.Combine(pidDirectory, "cgroup")); }
            catch (IOException) { }
            var (containerId, runtime, podUid) = CgroupContainer.Parse(cgroup);
            return new ProcessIdentity(pid, comm, cmdline, containerId, runtime, podUid);
        }
        catch (IOException) { return null; }                   // exited between the fd walk and now
        catch (UnauthorizedAccessException) { return null; }
    }
}
