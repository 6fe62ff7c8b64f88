using Apache.Arrow.Ipc;
using TrafficStore.Store.Client;

namespace TrafficStore.Cli.Export;

/// <summary>
/// Writes a query's result to an Arrow IPC file all or nothing: into a temp file beside the target (same folder, so the
/// rename cannot cross file systems), renamed over the target once the last batch and the footer are written. A result
/// stream that fails midway (a server ending the stream with an error, a store read failing) leaves no partial file
/// that would pass for the whole result, and a file already at the target is left as it was.
/// </summary>
public static class ArrowFileExport
{
    /// <summary>Writes every batch of <paramref name="result"/> to <paramref name="path"/>; returns the rows written.</summary>
    /// <exception cref="IOException">The result failed midway (the cause is the inner exception); nothing was written.</exception>
    public static long Write(TrafficQueryResult result, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        long rows = 0;
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
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
}
