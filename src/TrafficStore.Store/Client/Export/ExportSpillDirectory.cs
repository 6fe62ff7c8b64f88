namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Where an export merged in passes puts its <see cref="MergeSpill"/> files: by default <c>&lt;store&gt;/tmp</c>, a folder of
/// the store itself, created on demand. Not the system temp folder: on a server pod /tmp may be tmpfs (the spills, as large
/// as the export, would be held in RAM) or read-only, while the store's volume is sized for the data being exported.
/// Files are named <c>export-*.spill</c>; each is deleted when its export ends (success, failure or cancellation), and
/// those a crash left are deleted when the store opens (<see cref="DeleteLeftovers"/>).
/// </summary>
public static class ExportSpillDirectory
{
    /// <summary>The name of the store's folder of temporary files.</summary>
    public const string StoreFolder = "tmp";

    internal const string FilePattern = "export-*.spill";

    /// <summary><c>&lt;store&gt;/tmp</c>.</summary>
    public static string Of(string storeDirectory) => Path.Combine(storeDirectory, StoreFolder);

    internal static string NewFilePath(string directory) => Path.Combine(directory, $"export-{Guid.NewGuid():N}.spill");

    /// <summary>
    /// Deletes the spill files an export left in <paramref name="directory"/> when its process died (the store is locked
    /// by one process, so none of them is in use). Returns how many were deleted.
    /// </summary>
    public static int DeleteLeftovers(string directory)
    {
        if (!Directory.Exists(directory)) return 0;
        int deleted = 0;
        foreach (var file in Directory.EnumerateFiles(directory, FilePattern, SearchOption.TopDirectoryOnly))
        {
            File.Delete(file);
            deleted++;
        }
        return deleted;
    }
}
