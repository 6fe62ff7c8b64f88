using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// fsync of a directory, so a rename or a new file survives a power loss (POSIX requires it;
/// .NET has no API for it). On Windows directory handles cannot be flushed this way; it is a no-op.
/// </summary>
internal static partial class DirectorySync
{
    public static void Fsync(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0) return; // cannot open the directory: the data file itself is already fsync'd
        try { _ = FsyncNative(fd); }
        finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int FsyncNative(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
