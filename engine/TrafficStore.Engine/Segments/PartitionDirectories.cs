namespace TrafficStore.Engine.Segments;

/// <summary>
/// Removes partition directories (segments/{table}/{partition}) once they are empty, so a store under retention does not
/// collect one empty directory per table and partition forever (open and every walk would enumerate them).
/// <para>
/// Why this cannot race a writer: a directory is removed with rmdir, which the file system refuses while the directory
/// holds any entry, so a segment, a temp file of a bulk load or a flush, or any unknown file keeps it. The one window left
/// is between a writer's <see cref="Directory.CreateDirectory(string)"/> and its file creation; <see cref="CreateFile"/>
/// closes it by creating the directory again and retrying when it vanished in between. That is simpler than holding the
/// maintenance lock around removals (bulk loads write their temp files outside it), and it lets a removal run wherever a
/// segment file is deleted, including the deferred deletes of replaced files when the last query reading them ends.
/// </para>
/// Crash-safe trivially: an empty directory holds nothing; a removal lost in a crash is redone by the sweep on open.
/// </summary>
internal static class PartitionDirectories
{
    /// <summary>Attempts before <see cref="CreateFile"/> gives up (each attempt loses only to a concurrent removal).</summary>
    private const int CreateAttempts = 100;

    /// <summary>
    /// Creates (truncating) <paramref name="path"/>, creating its directory first (durably: the parent of every directory
    /// created is fsync'd, see <see cref="DirectorySync.CreateDirectory"/>) and again if a removal of the then empty
    /// directory got in between.
    /// </summary>
    public static FileStream CreateFile(string path, int bufferSize)
    {
        var directory = Path.GetDirectoryName(path)!;
        var created = new List<string>();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                created.AddRange(DirectorySync.CreateMissing(directory));
            }
            catch (IOException) when (attempt < CreateAttempts)
            {
                // .NET's CreateDirectory sees mkdir fail with EEXIST and then checks that the path is a directory; a removal
                // in between makes it report "already exists". Try again (a real file in the way fails every attempt).
                continue;
            }
            try
            {
                var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize);
                // Synced once the file is in: it keeps the directory from being removed meanwhile (syncing first would
                // widen the window a removal has between the mkdir and the file, every attempt).
                try { DirectorySync.SyncParents(created); }
                catch { file.Dispose(); throw; }
                return file;
            }
            catch (IOException e) when (e is DirectoryNotFoundException or FileNotFoundException && attempt < CreateAttempts)
            {
                // Removed by RemoveIfEmpty between the two calls (it was still empty): create it again. .NET reports the
                // ENOENT of a creating open as either type (seen: FileNotFoundException under load), and with FileMode.Create
                // both can only mean a missing directory.
            }
        }
    }

    /// <summary>Deletes a segment file and then its directory if that is left empty (no fsync: segment deletes are not fsync'd either).</summary>
    public static void DeleteSegmentFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            // Its folder went with it: the file was moved to quarantine (a replaced file kept for a query, found corrupt
            // by it) and the folder removed once empty. Nothing is left to delete; File.Delete reports a missing folder.
            return;
        }
        RemoveIfEmpty(Path.GetDirectoryName(path)!);
    }

    /// <summary>Removes <paramref name="directory"/> if it exists and holds nothing; true if this call removed it.</summary>
    public static bool RemoveIfEmpty(string directory)
    {
        try
        {
            if (!Directory.Exists(directory) || Directory.EnumerateFileSystemEntries(directory).Any()) return false;
            Directory.Delete(directory, recursive: false); // rmdir: fails if a writer created a file since the check
            return true;
        }
        catch (IOException)
        {
            return false; // not empty any more, or removed concurrently (DirectoryNotFoundException is an IOException)
        }
        catch (UnauthorizedAccessException)
        {
            return false; // not ours to remove; harmless to keep
        }
    }

    /// <summary>
    /// Removes every empty partition directory under <paramref name="segmentsDirectory"/> (open heals stores that
    /// collected them), then fsyncs each table directory that lost one. Table directories themselves stay. Returns how many were removed.
    /// </summary>
    public static int SweepEmpty(string segmentsDirectory)
    {
        int removed = 0;
        foreach (var table in Directory.EnumerateDirectories(segmentsDirectory))
        {
            int inTable = 0;
            foreach (var partition in Directory.EnumerateDirectories(table).ToList())
                if (RemoveIfEmpty(partition)) inTable++;
            if (inTable > 0) DirectorySync.Fsync(table);
            removed += inTable;
        }
        return removed;
    }
}
