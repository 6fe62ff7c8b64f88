using TrafficStore.Engine.Segments;

namespace TrafficStore.Agent.Spool;

/// <summary>
/// fsync of the spool directory, so a new segment file or a renamed <c>ack</c>, <c>agent-id</c>, <c>numbered</c> or <c>put-limit</c> file
/// survives a power loss (POSIX requires it; .NET has no API for it). A directory that cannot be opened or an fsync
/// that fails is an <see cref="IOException"/>: the spool then does not rely on the entry (does not number batches
/// under a new id, does not report an append or an acknowledgement done). On Windows it is a no-op (NTFS journals
/// renames; directory handles cannot be flushed this way).
/// </summary>
internal static class SpoolDirectory
{
    /// <summary>Test seam: told the full path of every directory about to be fsync'd (power-loss tests model the disk from it).</summary>
    internal static event Action<string>? Syncing;

    /// <summary>
    /// Replaces the small file <paramref name="path"/> whole (ASCII <paramref name="text"/>): a temp file, fsync'd, renamed
    /// over it, then the spool directory fsync'd, so the new content is durable when this returns (the rename with it).
    /// </summary>
    public static void Replace(string path, string text)
    {
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            f.Write(System.Text.Encoding.ASCII.GetBytes(text));
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        Fsync(Path.GetDirectoryName(path)!);
    }

    public static void Fsync(string directory)
    {
        Syncing?.Invoke(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        DirectorySync.Fsync(directory); // the engine's: throws IOException naming the directory and errno
    }
}
