using System.Runtime.InteropServices;

namespace TrafficStore.Agent.Spool;

/// <summary>
/// fsync of the spool directory, so a new segment file or a renamed <c>ack</c>, <c>agent-id</c> or <c>numbered</c> file
/// survives a power loss (POSIX requires it; .NET has no API for it). A directory that cannot be opened or an fsync
/// that fails is an <see cref="IOException"/>: the spool then does not rely on the entry (does not number batches
/// under a new id, does not report an append or an acknowledgement done). On Windows it is a no-op (NTFS journals
/// renames; directory handles cannot be flushed this way).
/// </summary>
internal static partial class SpoolDirectory
{
    /// <summary>Test seam: told the full path of every directory about to be fsync'd (power-loss tests model the disk from it).</summary>
    internal static event Action<string>? Syncing;

    public static void Fsync(string directory)
    {
        Syncing?.Invoke(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        int fd;
        do fd = Open(directory, OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000 /* O_RDONLY | O_CLOEXEC */);
        while (fd < 0 && Marshal.GetLastPInvokeError() == 4 /* EINTR */);
        if (fd < 0) throw Failure("open", directory, Marshal.GetLastPInvokeError());
        try
        {
            // No retry: after a failed fsync the kernel may have dropped the dirty state already.
            if (FsyncNative(fd) != 0) throw Failure("fsync", directory, Marshal.GetLastPInvokeError());
        }
        finally { _ = Close(fd); }
    }

    private static IOException Failure(string call, string directory, int errno) =>
        new($"Could not make the spool directory '{directory}' durable ({call} failed: {Marshal.GetPInvokeErrorMessage(errno)}, errno {errno}).", errno);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
