using System.Text.RegularExpressions;
using Apache.Arrow.Ipc;
using TrafficStore.Store.Client;

namespace TrafficStore.Cli.Export;

/// <summary>
/// Writes a query's result to an Arrow IPC file all or nothing: into a temp file beside the target (same folder, so the
/// rename cannot cross file systems), renamed over the target once the last batch and the footer are written. A result
/// stream that fails midway (a server ending the stream with an error, a store read failing) leaves no partial file
/// that would pass for the whole result, and a file already at the target is left as it was.
/// <para>
/// A killed export leaves its temp file (<c>.NAME.GUID.tmp</c>). The next export to the same NAME removes such files
/// whose writer is provably gone: the writer holds an exclusive lock on its temp file while it writes (FileShare.None:
/// flock on Linux, a share-mode lock on Windows), which the OS releases when the process dies, so a temp file that can
/// be locked has no writer. One modified within <see cref="StaleTempMinAge"/> is left too, since a new writer creates
/// its file a moment before it locks it. Temp files of other outputs, and everything when .NET's file locking is
/// turned off (DOTNET_SYSTEM_IO_DISABLEFILELOCKING), are left alone.
/// </para>
/// </summary>
public static class ArrowFileExport
{
    /// <summary>A temp file modified more recently than this is never removed as stale (see the class summary).</summary>
    public static readonly TimeSpan StaleTempMinAge = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Writes every batch of <paramref name="result"/> to <paramref name="path"/>; returns the rows written. First removes
    /// stale temp files of earlier exports to the same path that were killed (<see cref="RemoveStaleTemps"/>), telling
    /// <paramref name="removed"/> each one's path.
    /// </summary>
    /// <exception cref="IOException">The result failed midway (the cause is the inner exception); nothing was written.</exception>
    public static long Write(TrafficQueryResult result, string path, Action<string>? removed = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        foreach (var stale in RemoveStaleTemps(full)) removed?.Invoke(stale);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        long rows = 0;
        try
        {
            // Locked while written (FileShare.None): a later export to the same path tells a live writer from a killed one.
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new ArrowFileWriter(file, result.Schema))
            {
                writer.WriteStart();
                var e = result.Batches.GetAsyncEnumerator();
                try
                {
                    while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                    {
                        writer.WriteRecordBatch(e.Current);
                        rows += e.Current.Length;
                    }
                }
                finally { e.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
                writer.WriteEnd();
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            return rows;
        }
        catch (Exception e)
        {
            File.Delete(temp);
            var kept = File.Exists(full) ? $"; {path} was left as it was" : "";
            throw new IOException($"the result failed after {rows} rows ({e.Message}): no file was written{kept}", e);
        }
    }

    /// <summary>
    /// Removes the temp files that exports to <paramref name="path"/> killed before their rename left beside it: those no
    /// process holds locked and not modified within <see cref="StaleTempMinAge"/>. Returns the paths removed. Files it
    /// cannot examine or remove are left (this is tidying, never a reason for an export to fail).
    /// </summary>
    public static IReadOnlyList<string> RemoveStaleTemps(string path, DateTime? nowUtc = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (FileLockingDisabled()) return [];
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        string name = Path.GetFileName(full);
        var pattern = new Regex($"^\\.{Regex.Escape(name)}\\.[0-9a-f]{{32}}\\.tmp$", RegexOptions.CultureInvariant);
        DateTime cutoff = (nowUtc ?? DateTime.UtcNow) - StaleTempMinAge;
        var removed = new List<string>();
        IEnumerable<string> candidates;
        try { candidates = Directory.EnumerateFiles(directory, $".{name}.*.tmp").Where(f => pattern.IsMatch(Path.GetFileName(f))).ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return removed; }
        foreach (var temp in candidates)
        {
            try
            {
                if (File.GetLastWriteTimeUtc(temp) > cutoff) continue;
                // Fails while a writer holds its lock (a running export); succeeds only when none does. Once it did, no
                // writer ever opens the file again (each creates a new name of its own GUID): it can go after the close.
                new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.None).Dispose();
                File.Delete(temp);
                removed.Add(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    private static bool FileLockingDisabled() =>
        (AppContext.TryGetSwitch("System.IO.DisableFileLocking", out bool disabled) && disabled)
        || Environment.GetEnvironmentVariable("DOTNET_SYSTEM_IO_DISABLEFILELOCKING") is "1" or "true" or "True" or "TRUE";
}
