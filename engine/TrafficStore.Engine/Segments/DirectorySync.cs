using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// fsync of a directory, so a rename or a new file survives a power loss (POSIX requires it;
/// .NET has no API for it). On Windows directory handles cannot be flushed this way; it is a no-op.
/// </summary>
internal static partial class DirectorySync
{
    /// <summary>Test seam: told the full path of every directory about to be fsync'd (crash-image tests model a power loss from it).</summary>
    internal static event Action<string>? Syncing;

    public static void Fsync(string directory)
    {
        Syncing?.Invoke(directory);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0) return; // cannot open the directory: the data file itself is already fsync'd
        try { _ = FsyncNative(fd); }
        finally { _ = Close(fd); }
    }

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
    public static List<string> CreateMissing(string directory)
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
    public static void SyncParents(List<string> created)
    {
        foreach (var d in created)
            if (Path.GetDirectoryName(d) is { } parent) Fsync(parent);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int FsyncNative(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
