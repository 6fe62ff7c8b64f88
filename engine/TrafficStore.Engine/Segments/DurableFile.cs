namespace TrafficStore.Engine.Segments;

/// <summary>
/// Replaces a small file whole and atomically: the new bytes go to a temp file, which is fsync'd and
/// renamed over the old one, then the directory is fsync'd, so after a crash the file holds either the
/// old or the new content, never a mix. For the store's settings, catalog, retention policy, WAL
/// checkpoint and bulk commit records.
/// </summary>
internal static class DurableFile
{
    public static void Replace(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = StoreLayout.TempFileFor(path);
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        DirectorySync.Fsync(Path.GetDirectoryName(path)!);
    }

    public static void Replace(string path, string text) => Replace(path, System.Text.Encoding.UTF8.GetBytes(text));
}
