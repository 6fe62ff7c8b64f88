using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// fsync of a directory, so a rename or a new file survives a power loss (POSIX requires it;
/// .NET has no API for it). On Windows directory handles cannot be flushed this way; it is a no-op.
/// </summary>
public static partial class DirectorySync
{
    /// <summary>Test seam: told the full path of every directory about to be fsync'd (crash-image tests model a power loss from it).</summary>
    internal static event Action<string>? Syncing;

    /// <summary>
    /// Test seam: an errno to fail the fsync of a directory with (0 or no entry: none), keyed by the directory's full path
    /// without a trailing separator. Keyed so that tests running in parallel inject only into their own stores.
    /// </summary>
    internal static readonly ConcurrentDictionary<string, int> InjectedErrors = new(StringComparer.Ordinal);

    /// <summary>
    /// fsyncs <paramref name="directory"/>. Throws <see cref="IOException"/> when the directory cannot be opened or the
    /// fsync fails: the caller made a rename or a new entry in it that is not durable until this succeeds, so it must not
    /// acknowledge (or delete anything on the strength of) that entry. Skipping the sync silently would acknowledge a
    /// change a power loss can undo; failing lets the caller's existing error path (the one a failed file fsync takes) run.
    /// </summary>
    public static void Fsync(string directory)
    {
        Syncing?.Invoke(directory);
        if (!InjectedErrors.IsEmpty && InjectedErrors.TryGetValue(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)), out int injected) && injected != 0)
            throw Failure("fsync", directory, injected);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd;
        do fd = Open(directory, OpenReadOnly | OpenCloseOnExec);
        while (fd < 0 && Marshal.GetLastPInvokeError() == Eintr);
        if (fd < 0) throw Failure("open", directory, Marshal.GetLastPInvokeError());
        try
        {
            // No retry on EINTR: after a failed fsync the kernel may already have dropped the dirty state (a retry that
            // succeeds would prove nothing), so any failure is reported.
            if (FsyncNative(fd) != 0) throw Failure("fsync", directory, Marshal.GetLastPInvokeError());
        }
        finally { _ = Close(fd); }
    }

    private static IOException Failure(string call, string directory, int errno) =>
        new($"Could not make directory '{directory}' durable ({call} failed: {Marshal.GetPInvokeErrorMessage(errno)}, errno {errno}).", errno);

    private const int OpenReadOnly = 0;
    private const int Eintr = 4;
    // O_CLOEXEC differs between Linux (all architectures .NET runs on) and macOS. (No O_DIRECTORY: its value differs between Linux architectures.)
    private static readonly int OpenCloseOnExec = OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000;

    /// <summary>
    /// Creates <paramref name="directory"/> and any missing ancestors, and fsyncs the parent of each one it created
    /// before returning. A new directory is an entry in its parent: until the parent is fsync'd a power loss can
    /// take the entry away, and with it every file written inside (fsyncing those files and the new directory
    /// itself does not make the entry durable). Every directory the engine creates on a durability path (a segment's
    /// partition and table folders, the store root, wal/, segments/) is created through here, so nothing written into
    /// it can depend on an entry that is not on disk. Costs one fsync per directory actually created.
    /// </summary>
    public static void CreateDirectory(string directory) => SyncParents(CreateMissing(directory));

    /// <summary>
    /// Creates <paramref name="directory"/> and its missing ancestors without syncing; returns the ones it created
    /// (deepest first), whose parents the caller must <see cref="SyncParents"/> before anything depends on them.
    /// </summary>
    internal static List<string> CreateMissing(string directory)
    {
        var missing = new List<string>();
        for (var d = Path.GetFullPath(directory); !Directory.Exists(d); d = Path.GetDirectoryName(d)!)
        {
            missing.Add(d);
            if (Path.GetDirectoryName(d) is null) break; // a root that does not exist: CreateDirectory reports it
        }
        Directory.CreateDirectory(directory);
        return missing;
    }

    /// <summary>fsyncs the parent of each directory in <paramref name="created"/>, making its entry durable (a concurrent creator may have made some: harmless).</summary>
    internal static void SyncParents(List<string> created)
    {
        foreach (var d in created)
            if (Path.GetDirectoryName(d) is { } parent) Fsync(parent);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
