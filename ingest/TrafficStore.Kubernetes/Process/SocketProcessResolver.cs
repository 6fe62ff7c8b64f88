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
    public bool TryResolve(SocketProtocol protocol, NetAddress address, ushort port, out ProcessIdentity identity)
    {
        lock (_gate)
        {
            if (Lookup(protocol, address, port, out identity!)) { _hits++; return true; }
            _misses++;
            long now = _time.GetTimestamp();
            if (_lastRefreshTicks != long.MinValue && _time.GetElapsedTime(_lastRefreshTicks, now) < _minRefreshInterval)
            {
                _rateLimited++;
                return false;
            }
            RefreshLocked(now);
            return Lookup(protocol, address, port, out identity!);
        }
    }

    /// <summary>Rereads the socket tables and process fds now, regardless of the rate limit.</summary>
    public void Refresh()
    {
        lock (_gate) RefreshLocked(_time.GetTimestamp());
    }

    private bool Lookup(SocketProtocol protocol, NetAddress address, ushort port, out ProcessIdentity? identity)
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

        var socketsByInode = new Dictionary<long, List<LocalSocket>>();
        foreach (var (file, protocol) in Tables)
        {
            string text;
            try { text = File.ReadAllText(Path.Combine(_procRoot, file)); }
            catch (IOException) { continue; }            // IPv6 disabled: no tcp6/udp6
            catch (UnauthorizedAccessException) { continue; }
            foreach (var (socket, inode) in ProcNetTable.Parse(text, protocol))
            {
                if (!socketsByInode.TryGetValue(inode, out var list)) socketsByInode[inode] = list = new List<LocalSocket>(1);
                list.Add(socket);
            }
        }

        var cache = new Dictionary<LocalSocket, ProcessIdentity>();
        var processes = new Dictionary<int, ProcessIdentity?>();
        foreach (var pidDirectory in EnumeratePidDirectories())
        {
            int pid = int.Parse(Path.GetFileName(pidDirectory), System.Globalization.CultureInfo.InvariantCulture);
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

    private IEnumerable<string> EnumeratePidDirectories()
    {
        IEnumerable<string> directories;
        try { directories = Directory.EnumerateDirectories(_procRoot); }
        catch (IOException) { yield break; }
        var pids = new List<(int, string)>();
        foreach (var directory in directories)
            if (int.TryParse(Path.GetFileName(directory), out int pid)) pids.Add((pid, directory));
        pids.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        foreach (var (_, directory) in pids) yield return directory;
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
