using System.Text;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine;

public sealed partial class TrafficStoreEngine
{
    /// <summary>fsyncs mostly wait on the disk: more of them in flight than cores.</summary>
    private static readonly ParallelOptions FsyncOptions = new() { MaxDegreeOfParallelism = 16 };

    /// <summary>fsyncs directories concurrently; a failure surfaces as the <see cref="IOException"/> of the first that failed.</summary>
    private static void FsyncDirectories(IEnumerable<string> directories)
    {
        try { Parallel.ForEach(directories, FsyncOptions, DirectorySync.Fsync); }
        catch (AggregateException e) when (e.InnerExceptions.OfType<IOException>().FirstOrDefault() is { } io)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(io);
        }
    }

    /// <summary>
    /// Starts a bulk load: rows appended to it skip the WAL and are sealed straight into segments
    /// (see <see cref="BulkLoad"/> for when they are acknowledged). For loading a capture file; small
    /// appends that must be durable one by one use <see cref="AppendAsync"/>. Complete the bulk load
    /// before disposing the engine; a load still open then is stopped (its unacknowledged batches dropped).
    /// </summary>
    public BulkLoad BeginBulkLoad(BulkLoadOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var load = new BulkLoad(this, options ?? new BulkLoadOptions());
        _bulkLoads.TryAdd(load, 0);
        load.SealingFinished.ContinueWith(_ => _bulkLoads.TryRemove(load, out byte _), TaskScheduler.Default);
        return load;
    }

    /// <summary>Bulk loads whose sealing task still runs; disposing the engine stops them first.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<BulkLoad, byte> _bulkLoads = new();

    /// <summary>
    /// Stops bulk loads that were neither completed nor disposed (a caller interrupted mid-load): the
    /// seal unit being written finishes (or is rolled back whole), buffered batches not yet
    /// acknowledged are dropped, and nothing writes into the store once it is closed.
    /// </summary>
    private async Task StopBulkLoadsAsync()
    {
        foreach (var load in _bulkLoads.Keys)
        {
            _options.Log?.Invoke(StoreLogLevel.Warning, "Closing the store with a bulk load still open: its unacknowledged batches are dropped.");
            await load.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Checks and converts a batch for a bulk load (same rules as <see cref="AppendAsync"/>).</summary>
    internal (TableState Table, RowBlock Rows) PrepareBulk(string table, Apache.Arrow.RecordBatch batch)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var state = Table(table);
        var rows = RowBlock.FromBatch(state.Schema, batch);
        var time = rows.Columns[rows.Schema.IndexOf(state.Definition.TimeColumn)];
        if (time.NullCount > 0) throw new ArgumentException($"The time column '{state.Definition.TimeColumn}' has nulls; every row needs a time.");
        return (state, rows);
    }

    /// <summary>
    /// Seals one bulk-load unit of a table and makes it durable and visible. The commit protocol:
    /// <list type="number">
    /// <item>every segment is written under its temp name (<see cref="SegmentSealer.SealUncommitted"/>), then all are fsync'd;</item>
    /// <item>a commit record listing their final paths is written, fsync'd and renamed into place, and the WAL directory is fsync'd — the commit point;</item>
    /// <item>each temp file is renamed to its final name, each segment directory fsync'd once (new partition and table directories were made durable when created), the commit record deleted.</item>
    /// </list>
    /// A crash before the commit point leaves only temp files (deleted on open: none of these rows was
    /// acknowledged); after it, open finishes the renames from the record. So a unit is all or nothing.
    /// </summary>
    internal async Task<int> SealBulkAsync(TableState table, IReadOnlyList<RowBlock> blocks, CancellationToken ct)
    {
        var sealedSegments = _sealer.SealUncommitted(table.Definition, blocks);
        if (sealedSegments.Count == 0) return 0;
        var record = Layout.BulkCommitFile(sealedSegments[0].Handle.Id);
        try
        {
            // A sparse capture gives one segment per table and minute it touches (thousands for a capture
            // spanning days): fsync them concurrently, so the file system commits its journal for many at once.
            Parallel.ForEach(sealedSegments, FsyncOptions, s =>
            {
                using var file = new FileStream(s.TempPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1);
                file.Flush(flushToDisk: true);
            });
            // The temp files' entries too: after the commit point open renames them from the record, and one whose entry
            // a power loss took away would leave the unit in part. (New partition and table directories were made
            // durable in their parents when the writer created them.)
            FsyncDirectories(sealedSegments.Select(s => Path.GetDirectoryName(s.TempPath)!).Distinct(StringComparer.Ordinal));
            var text = new StringBuilder();
            foreach (var (handle, _) in sealedSegments) text.Append(Path.GetRelativePath(Layout.Root, handle.Path)).Append('\n');
            DurableFile.Replace(record, text.ToString()); // the commit point (in wal/)
        }
        catch
        {
            // Not committed. A record renamed into place whose directory fsync failed goes first: it must not name
            // files that are deleted next (open would report them missing).
            File.Delete(record);
            foreach (var (_, temp) in sealedSegments) File.Delete(temp);
            throw;
        }
        // Committed: from here on a failure is finished by the next open, never undone.
        foreach (var (handle, temp) in sealedSegments) File.Move(temp, handle.Path, overwrite: true);
        // Each partition directory (the renames; the directories themselves are durable since the writers created them).
        var directories = sealedSegments.Select(s => Path.GetDirectoryName(s.Handle.Path)!).Distinct(StringComparer.Ordinal).ToList();
        FsyncDirectories(directories);
        File.Delete(record);

        // Visible to queries only now that the unit is durable (queries never see rows that a crash could take away).
        await _maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            table.Update(s =>
            {
                var segs = s.Segments;
                foreach (var (h, _) in sealedSegments) segs = segs.Add(h.Id, h);
                return s with { Segments = segs };
            });
            foreach (var (h, _) in sealedSegments) _index.Add(h.Footer);
        }
        finally
        {
            _maintenance.Release();
        }
        return sealedSegments.Count;
    }

    /// <summary>Finishes bulk-load units that reached their commit point before a crash (run before temp files are removed).</summary>
    private void FinishBulkCommits()
    {
        foreach (var record in Directory.EnumerateFiles(Layout.WalDirectory, "*" + StoreLayout.BulkCommitExtension).Order(StringComparer.Ordinal).ToList())
        {
            int renamed = 0;
            foreach (var line in File.ReadAllLines(record))
            {
                if (line.Length == 0) continue;
                var final = Path.GetFullPath(Path.Combine(Layout.Root, line));
                var temp = StoreLayout.TempFileFor(final);
                if (File.Exists(temp))
                {
                    File.Move(temp, final, overwrite: true);
                    DirectorySync.Fsync(Path.GetDirectoryName(final)!);
                    renamed++;
                }
                else if (!File.Exists(final))
                {
                    Note($"Bulk commit '{Path.GetFileName(record)}' lists '{line}', which is missing.");
                }
            }
            File.Delete(record);
            Note($"Finished bulk commit '{Path.GetFileName(record)}' ({renamed} segments renamed into place).");
        }
    }
}
