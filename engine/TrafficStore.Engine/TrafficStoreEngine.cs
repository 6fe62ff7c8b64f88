using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.RegularExpressions;
using Apache.Arrow;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Index;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using TrafficStore.Engine.Wal;

namespace TrafficStore.Engine;

/// <summary>
/// The storage engine: named tables of Arrow rows, partitioned by time, sealed into compressed
/// columnar segments, indexed, durable through a group-committed WAL, with retention.
/// Thread-safe: appends, queries, flushes and retention may run concurrently.
/// </summary>
public sealed partial class TrafficStoreEngine : IDisposable, IAsyncDisposable
{
    private readonly StoreOptions _options;
    private readonly ConcurrentDictionary<string, TableState> _tables = new(StringComparer.Ordinal);
    private readonly object _catalogLock = new();
    private readonly SegmentIndex _index;
    private readonly SegmentSealer _sealer;
    private readonly SemaphoreSlim _maintenance = new(1, 1);
    private readonly List<QuarantinedSegment> _quarantined = [];
    private readonly List<string> _recoveryNotes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly WriteAheadLog _wal;
    private DeliveryMarks _deliveries = new();
    private readonly FileStream _lockFile;
    private Task _background = Task.CompletedTask;
    private RetentionPolicy _retention;
    private long _sealedSeq;
    private long _nextSegmentId;
    private long _unsealedBytes;
    private long _segmentsRead, _rowGroupsRead, _flushes;
    private long _retentionDeletedSegments, _retentionRewrittenSegments, _retentionDeletedRows, _retentionDeletedBytes;
    private int _disposed;

    /// <summary>Raised for every segment retention deletes or rewrites.</summary>
    public event Action<RetentionAction>? RetentionApplied;

    private TrafficStoreEngine(StoreOptions options)
    {
        Layout = new StoreLayout(options.Directory);
        Layout.EnsureDirectories();
        try
        {
            // One engine per store: two WAL writers or two retention runs on one directory would corrupt it.
            _lockFile = new FileStream(Layout.LockFile, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The store '{Layout.Root}' is already open (in this or another process).", e);
        }
        var partition = StoreSettingsFile.LoadOrCreate(Layout.StoreFile, options.PartitionDuration);
        if (partition != options.PartitionDuration)
        {
            Note($"The store was created with partition duration {partition}; keeping it (requested {options.PartitionDuration}).");
            options = options with { PartitionDuration = partition };
        }
        _options = options;
        _replacedFiles.Log = options.Log;
        _index = new SegmentIndex(Layout.IndexDirectory, options.IndexMemoryBytes);
        _sealer = new SegmentSealer(Layout, options, () => Interlocked.Increment(ref _nextSegmentId));
        try
        {
            _retention = RetentionPolicyFile.Load(Layout.RetentionFile);
            var totals = RetentionTotalsFile.Load(Layout.RetentionTotalsFile);
            (_retentionDeletedSegments, _retentionRewrittenSegments, _retentionDeletedRows, _retentionDeletedBytes) =
                (totals.DeletedSegments, totals.RewrittenSegments, totals.DeletedRows, totals.DeletedBytes);
            var lastSeq = Recover();
            _wal = WriteAheadLog.Start(Layout, lastSeq, options.WalGroupCommitWindow);
        }
        catch
        {
            _index.Dispose(); // release FASTER's files; the caller sees the recovery error itself
            _lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Opens (creating if needed) a store and recovers it: segments are checked, an unfinished flush is undone, the WAL is replayed.</summary>
    public static TrafficStoreEngine Open(StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.PartitionDuration <= TimeSpan.Zero) throw new ArgumentException("PartitionDuration must be positive.", nameof(options));
        if (options.RowGroupRows <= 0) throw new ArgumentException("RowGroupRows must be positive.", nameof(options));
        var engine = new TrafficStoreEngine(options);
        engine._background = Task.Run(() => engine.RunBackgroundAsync(engine._stop.Token));
        return engine;
    }

    public StoreLayout Layout { get; }
    public StoreOptions Options => _options;
    public IReadOnlyList<string> TableNames => _tables.Keys.Order(StringComparer.Ordinal).ToList();

    // ------------------------------------------------------------------ recovery

    private long Recover()
    {
        FinishBulkCommits(); // before the temp sweep: a committed bulk unit's segments are still temp files
        foreach (var temp in Directory.EnumerateFiles(Layout.Root, "*" + StoreLayout.TempExtension, SearchOption.AllDirectories))
        {
            File.Delete(temp); // an interrupted write; the real file (if any) is intact
            Note($"Removed unfinished temp file '{Path.GetRelativePath(Layout.Root, temp)}'.");
        }
        foreach (var definition in TableCatalogFile.Load(Layout.CatalogFile).Values)
            _tables[definition.Name] = new TableState(definition);
        LoadQuarantineRecords();

        _sealedSeq = WalCheckpoint.Read(Layout.WalCheckpointFile);
        // As of the last flush that sealed anything; the replay raises it. Its active clock goes on from the saved value.
        _deliveries = DeliveryMarks.Load(Layout.DeliveriesFile, _options.Clock);
        var replay = WriteAheadLog.Replay(Layout, _sealedSeq);
        foreach (var problem in replay.Problems) Note(problem);
        // The WAL holds every record from its first one on (sealed files are deleted oldest first, whole, and a flush
        // starts a new file): a segment newer than the checkpoint whose flush sealed records before that is not in it.
        long firstWalSeq = replay.Records.Count > 0 ? replay.Records[0].Seq : long.MaxValue;

        var handles = new List<SegmentHandle>();
        // Segments named as replaced by a segment quarantined below whose footer was read (a bad chunk, VerifyChunksOnOpen):
        // deleted like those a served segment names, as at run time (quarantining a segment deletes the file it replaced).
        var replacedByQuarantined = new HashSet<long>();
        long committed = _sealedSeq;
        foreach (var path in Directory.EnumerateFiles(Layout.SegmentsDirectory, "*" + StoreLayout.SegmentExtension, SearchOption.AllDirectories))
        {
            if (StoreLayout.TryParseSegmentId(path, out long id)) _nextSegmentId = Math.Max(_nextSegmentId, id);
            SegmentFooter footer;
            SegmentFooter? readFooter = null;
            try
            {
                using var reader = SegmentReader.Open(path);
                readFooter = reader.Footer;
                if (_options.VerifyChunksOnOpen) reader.VerifyAllChunks();
                footer = reader.Footer;
            }
            catch (SegmentCorruptException e)
            {
                Quarantine(TableNameOf(path), path, e.Reason, null);
                if (readFooter is { Replaces: not 0 }) replacedByQuarantined.Add(readFooter.Replaces);
                continue;
            }
            if (footer.FlushSeq > _sealedSeq)
            {
                if (replay.LastSeq >= footer.FlushSeq && firstWalSeq <= footer.FlushSeq)
                {
                    // Written by a flush that did not reach its checkpoint: the WAL still holds these rows.
                    File.Delete(path);
                    Note($"Removed segment {footer.SegmentId} of '{footer.Table}' from an unfinished flush (its rows are replayed from the WAL).");
                    continue;
                }
                // The WAL no longer has these rows (checkpoint lost or damaged): the segment is the only copy, keep it.
                committed = Math.Max(committed, footer.FlushSeq);
                Note($"Segment {footer.SegmentId} of '{footer.Table}' is newer than the WAL checkpoint and the WAL lacks its rows; kept, checkpoint raised to {footer.FlushSeq}.");
            }
            handles.Add(new SegmentHandle(path, footer, new FileInfo(path).Length));
        }
        if (committed > _sealedSeq)
        {
            _sealedSeq = committed;
            WalCheckpoint.Write(Layout.WalCheckpointFile, committed);
        }
        var replaced = handles.Where(h => h.Footer.Replaces != 0).Select(h => h.Footer.Replaces).Concat(replacedByQuarantined).ToHashSet();
        // Oldest id first (a replacement's id is newer than the one it replaces): a chain of replaced files (kept for a
        // query when the process died) goes from its start, so a crash in the middle of these deletes never leaves a
        // replaced file that no remaining file names (the directory walk's order would).
        foreach (var handle in handles.OrderBy(h => h.Id))
        {
            if (replaced.Contains(handle.Id))
            {
                File.Delete(handle.Path); // a retention rewrite finished but the old segment's delete did not
                Note($"Removed segment {handle.Id} of '{handle.Footer.Table}', already replaced by a retention rewrite.");
                continue;
            }
            if (!_tables.TryGetValue(handle.Footer.Table, out var table))
            {
                Note($"Segment '{handle.Path}' belongs to unknown table '{handle.Footer.Table}'; not served.");
                continue;
            }
            table.Update(s => s with { Segments = s.Segments.Add(handle.Id, handle) });
            _index.Add(handle.Footer);
        }
        // After every delete above (temp files, unfinished flushes, replaced segments): heals stores whose retention
        // left empty partition directories behind, and removes those a crash kept.
        int emptied = PartitionDirectories.SweepEmpty(Layout.SegmentsDirectory);
        if (emptied > 0) Note($"Removed {emptied} empty partition directories.");

        int replayed = 0;
        foreach (var record in replay.Records)
        {
            var decoded = WalPayload.Decode(record.Payload, (t, v) => _tables.TryGetValue(t, out var s) ? s.SchemaVersion(v) : null, out var delivery);
            // Every durable record's mark counts, also one at or below the checkpoint (its rows are in a segment): the
            // marks file may lag such a segment (a checkpoint raised above by a segment kept when the checkpoint was lost).
            if (delivery is { } mark) _deliveries.Raise(mark.Source, mark.Mark);
            if (record.Seq <= _sealedSeq) continue;
            if (decoded is not { } d) { Note($"WAL record {record.Seq} names an unknown table; skipped."); continue; }
            AddUnsealed(_tables[d.Table], record.Seq, d.Rows);
            replayed++;
        }
        if (replayed > 0) Note($"Replayed {replayed} WAL records (up to sequence {replay.LastSeq}).");
        int expired = _deliveries.ExpireIdle(_options.DeliveryMarkMaxIdle);
        if (expired > 0) Note($"Expired the delivery marks of {expired} sources idle for more than {_options.DeliveryMarkMaxIdle.TotalDays:0.#} days.");
        return Math.Max(replay.LastSeq, _sealedSeq);
    }

    private string TableNameOf(string segmentPath) =>
        Path.GetRelativePath(Layout.SegmentsDirectory, segmentPath).Split(Path.DirectorySeparatorChar)[0];

    private void Note(string message)
    {
        lock (_recoveryNotes) _recoveryNotes.Add(message);
        _options?.Log?.Invoke(StoreLogLevel.Information, message);
    }

    // ------------------------------------------------------------------ tables

    [GeneratedRegex("^[a-z0-9_]{1,64}$")]
    private static partial Regex TableNamePattern();

    /// <summary>
    /// Registers a table, or evolves an existing one. The same columns: nothing changes except the
    /// settings (end/index/namespace columns). Existing columns kept and new ones added: a new schema
    /// version (older rows read the new columns as null). Anything else throws.
    /// </summary>
    /// <returns>The table's current schema version.</returns>
    public int RegisterTable(TableSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (!TableNamePattern().IsMatch(spec.Name)) throw new ArgumentException($"Table name '{spec.Name}' must match [a-z0-9_]{{1,64}}.");
        var proposed = TableSchema.FromArrow(0, spec.Schema);
        Require(proposed, spec.TimeColumn, "time column", ColumnType.TimestampNs);
        if (spec.EndTimeColumn is not null) Require(proposed, spec.EndTimeColumn, "end time column", ColumnType.TimestampNs);
        if (spec.NamespaceColumn is not null) Require(proposed, spec.NamespaceColumn, "namespace column", ColumnType.Utf8);
        foreach (var c in spec.IndexedColumns) Require(proposed, c, "indexed column", ColumnType.Utf8, ColumnType.Int64);

        lock (_catalogLock)
        {
            List<TableSchema> versions;
            if (_tables.TryGetValue(spec.Name, out var existing))
            {
                var current = existing.Schema;
                if (existing.Definition.TimeColumn != spec.TimeColumn)
                    throw new InvalidOperationException($"Table '{spec.Name}' is partitioned by '{existing.Definition.TimeColumn}'; the time column cannot change.");
                versions = [.. existing.Definition.Versions];
                if (!current.SameColumns(new TableSchema(current.Version, proposed.Columns)))
                {
                    if (!current.IsExtendedBy(proposed))
                        throw new InvalidOperationException($"Table '{spec.Name}': the new schema must keep every existing column with its type (only adding columns is supported).");
                    // Keep existing column order and append the new columns, so positions of old columns stay stable.
                    var columns = current.Columns.Concat(proposed.Columns.Where(c => current.IndexOf(c.Name) < 0)).ToList();
                    versions.Add(new TableSchema(current.Version + 1, columns));
                }
            }
            else versions = [new TableSchema(1, proposed.Columns)];

            var definition = new TableDefinition(spec.Name, spec.TimeColumn, spec.EndTimeColumn, spec.IndexedColumns.ToList(), spec.NamespaceColumn, versions);
            var all = _tables.Values.Select(t => t.Definition).Where(d => d.Name != spec.Name).Append(definition).ToList();
            TableCatalogFile.Save(Layout.CatalogFile, all);
            if (existing is not null) existing.Definition = definition;
            else _tables[spec.Name] = new TableState(definition);
            return definition.Schema.Version;
        }
    }

    private static void Require(TableSchema schema, string column, string role, params ColumnType[] types)
    {
        int i = schema.IndexOf(column);
        if (i < 0) throw new ArgumentException($"The {role} '{column}' is not in the schema.");
        if (!types.Contains(schema.Columns[i].Type))
            throw new ArgumentException($"The {role} '{column}' must be {string.Join(" or ", types.Select(ColumnTypes.Name))}, not {ColumnTypes.Name(schema.Columns[i].Type)}.");
    }

    /// <summary>The registered spec of a table (its current schema version), or null.</summary>
    public TableSpec? GetTable(string name)
    {
        if (!_tables.TryGetValue(name, out var t)) return null;
        var d = t.Definition;
        return new TableSpec(d.Name, d.Schema.ToArrow(), d.TimeColumn)
        {
            EndTimeColumn = d.EndTimeColumn,
            IndexedColumns = d.IndexedColumns,
            NamespaceColumn = d.NamespaceColumn,
        };
    }

    private TableState Table(string name) =>
        _tables.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"Table '{name}' is not registered.");

    // ------------------------------------------------------------------ append

    /// <summary>
    /// Appends rows; completes once they are fsync'd to the WAL (concurrent appends share one
    /// fsync) and visible to queries. Columns are matched by name; table columns missing from the
    /// batch are stored as nulls. The time column must not be null.
    /// </summary>
    public ValueTask<AppendResult> AppendAsync(string table, RecordBatch batch, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var state = Table(table);
        return AppendRowsAsync(state, RowBlock.FromBatch(state.Schema, batch), delivery: null, ct);
    }

    /// <summary>The WAL append of <see cref="AppendAsync"/>; a delivery's mark is raised with the rows, after the fsync.</summary>
    private async ValueTask<AppendResult> AppendRowsAsync(TableState state, RowBlock rows, (string Source, DeliveryMark Mark)? delivery, CancellationToken ct)
    {
        var time = rows.Columns[rows.Schema.IndexOf(state.Definition.TimeColumn)];
        if (time.NullCount > 0) throw new ArgumentException($"The time column '{state.Definition.TimeColumn}' has nulls; every row needs a time.");
        if (rows.Length == 0) return new AppendResult(_wal.LastAssignedSeq, 0);
        var payload = WalPayload.Encode(state.Name, rows, out var rented, delivery);
        byte[]? toReturn = rented;
        try
        {
            long seq = await _wal.AppendAsync(payload, s =>
            {
                AddUnsealed(state, s, rows);
                if (delivery is { } d) _deliveries.Raise(d.Source, d.Mark);
            }, ct).ConfigureAwait(false);
            return new AppendResult(seq, rows.Length);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            toReturn = null; // only the wait was cancelled: the writer may still be writing the record, so the buffer goes to the GC
            throw;
        }
        finally
        {
            // The append task completed (record written, or failed): the WAL writer no longer reads the buffer.
            if (toReturn is not null) System.Buffers.ArrayPool<byte>.Shared.Return(toReturn);
        }
    }

    /// <summary>Expires idle delivery marks and writes the marks file if anything changed (under the maintenance lock).</summary>
    private void SaveDeliveryMarks(bool closing = false)
    {
        int expired = _deliveries.ExpireIdle(_options.DeliveryMarkMaxIdle);
        if (expired > 0) _options.Log?.Invoke(StoreLogLevel.Information, $"Expired the delivery marks of {expired} sources idle for more than {_options.DeliveryMarkMaxIdle.TotalDays:0.#} days of the store's active time.");
        // The active clock is saved with the marks: every hour of it at a flush, exactly at close.
        _deliveries.SaveIfChanged(Layout.DeliveriesFile, closing ? TimeSpan.Zero : DeliveryMarks.ClockSaveInterval);
    }

    private void AddUnsealed(TableState table, long seq, RowBlock rows)
    {
        var time = rows.Columns[rows.Schema.IndexOf(table.Definition.TimeColumn)];
        long min = long.MaxValue, max = long.MinValue;
        for (int i = 0; i < rows.Length; i++) { min = Math.Min(min, time.Longs[i]); max = Math.Max(max, time.Longs[i]); }
        table.Update(s => s with { Unsealed = s.Unsealed.Add(new UnsealedBatch(seq, rows, min, max)) });
        Interlocked.Add(ref _unsealedBytes, rows.RawBytes);
    }

    // ------------------------------------------------------------------ flush

    /// <summary>Seals every acknowledged row into segments, commits the WAL checkpoint and drops sealed WAL files.</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        await _maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await FlushLockedAsync().ConfigureAwait(false);
        }
        finally
        {
            _maintenance.Release();
        }
    }

    private async Task FlushLockedAsync()
    {
        if (_wal.LastAssignedSeq <= _sealedSeq)
        {
            // Nothing to seal, but a source's last-seen time may have moved (a resend stores nothing): keep it.
            SaveDeliveryMarks();
            return;
        }
        long upTo = await _wal.RotateAsync().ConfigureAwait(false);
        if (upTo <= _sealedSeq) return;
        var sealedByTable = new List<(TableState Table, List<SegmentHandle> Segments)>();
        await Task.Run(() =>
        {
            try
            {
                // The marks of the records this flush seals must outlive their WAL files (deleted below). Written before
                // any segment: a marks file never lags a segment of this flush, whatever happens to the WAL or the
                // checkpoint meanwhile (a mark ahead of the segments names rows the WAL still holds).
                SaveDeliveryMarks();
                foreach (var table in _tables.Values)
                {
                    var batches = table.Snapshot.Unsealed.Where(b => b.Seq <= upTo).Select(b => b.Rows).ToList();
                    if (batches.Count == 0) continue;
                    sealedByTable.Add((table, _sealer.Seal(table.Definition, batches, upTo)));
                }
                WalCheckpoint.Write(Layout.WalCheckpointFile, upTo); // the commit point of this flush
            }
            catch
            {
                // Not committed: remove what this flush wrote, or a later checkpoint would make it look committed.
                foreach (var (_, segments) in sealedByTable)
                    foreach (var h in segments) File.Delete(h.Path);
                throw;
            }
        }).ConfigureAwait(false);

        _sealedSeq = upTo;
        foreach (var (table, segments) in sealedByTable)
        {
            long freed = 0;
            table.Update(s =>
            {
                freed = s.Unsealed.Where(b => b.Seq <= upTo).Sum(b => b.Rows.RawBytes);
                var segs = s.Segments;
                foreach (var h in segments) segs = segs.Add(h.Id, h);
                return new TableSnapshot(s.Unsealed.RemoveAll(b => b.Seq <= upTo), segs);
            });
            foreach (var h in segments) _index.Add(h.Footer);
            Interlocked.Add(ref _unsealedBytes, -freed);
        }
        _wal.DeleteSealedFiles(upTo);
        Interlocked.Increment(ref _flushes);
    }

    private async Task RunBackgroundAsync(CancellationToken stop)
    {
        var tick = TimeSpan.FromMilliseconds(200);
        if (_options.FlushInterval is { } f && f < tick) tick = f;
        if (_options.RetentionInterval is { } r && r < tick) tick = r;
        if (tick <= TimeSpan.Zero) tick = TimeSpan.FromMilliseconds(1);
        var lastFlush = _options.Clock.GetUtcNow();
        var lastRetention = lastFlush;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(tick, stop).ConfigureAwait(false);
                var now = _options.Clock.GetUtcNow();
                bool flushDue = _options.FlushInterval is { } fi && now - lastFlush >= fi;
                if (flushDue || Interlocked.Read(ref _unsealedBytes) >= _options.MaxUnsealedBytes)
                {
                    lastFlush = now;
                    await FlushAsync(stop).ConfigureAwait(false);
                }
                if (_options.RetentionInterval is { } ri && now - lastRetention >= ri)
                {
                    lastRetention = now;
                    await ApplyRetentionAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _options.Log?.Invoke(StoreLogLevel.Error, $"Background maintenance failed: {e}");
            }
        }
    }

    // ------------------------------------------------------------------ quarantine

    /// <summary>Moves a corrupt segment to quarantine/, stops serving it and records why.</summary>
    internal void Quarantine(string table, string path, string reason, SegmentFooter? footer)
    {
        if (_tables.TryGetValue(table, out var state) && footer is not null)
        {
            bool removed = false;
            state.Update(s =>
            {
                removed = s.Segments.ContainsKey(footer.SegmentId);
                return removed ? s with { Segments = s.Segments.Remove(footer.SegmentId) } : s;
            });
            if (removed) _index.Remove(footer);
            ChunkCache.Invalidate(footer.SegmentId);
            PieceDictionaryCache.Shared.Invalidate(footer);
            // Before the file that names it leaves segments/. A chain file whose delete fails stays for a retry; until then
            // a crash would serve it again (its rows are a superset of this corrupt segment's, never a duplicate of them).
            if (footer.Replaces != 0) _replacedFiles.DeleteChain(footer.Replaces);
        }
        var target = Layout.QuarantineFile(path);
        long segmentId = StoreLayout.TryParseSegmentId(path, out var id) ? id : 0;
        lock (_quarantined)
        {
            // Two queries can hit the same corrupt segment; the first one moves it.
            if (!File.Exists(path) && _quarantined.Any(q => q.Table == table && q.SegmentId == segmentId)) return;
            if (File.Exists(path))
            {
                File.Move(path, target, overwrite: true);
                PartitionDirectories.RemoveIfEmpty(Path.GetDirectoryName(path)!);
            }
            var record = new QuarantinedSegment(table, segmentId, target, reason, footer?.MinTime, footer?.MaxTime, _options.Clock.GetUtcNow());
            File.WriteAllText(StoreLayout.QuarantineReasonFile(target), JsonSerializer.Serialize(record));
            _quarantined.Add(record);
        }
        _options.Log?.Invoke(StoreLogLevel.Error, $"Quarantined segment '{path}' of table '{table}': {reason}");
    }

    private void LoadQuarantineRecords()
    {
        foreach (var file in Directory.EnumerateFiles(Layout.QuarantineDirectory, "*.reason.txt"))
        {
            try
            {
                var record = JsonSerializer.Deserialize<QuarantinedSegment>(File.ReadAllText(file));
                if (record is not null) _quarantined.Add(record);
            }
            catch (JsonException e)
            {
                Note($"Quarantine note '{Path.GetFileName(file)}' is unreadable: {e.Message}");
            }
        }
    }

    internal IReadOnlyList<QuarantinedSegment> QuarantinedFor(string table)
    {
        lock (_quarantined) return _quarantined.Where(q => q.Table == table).ToList();
    }

    // ------------------------------------------------------------------ stats

    /// <summary>Whether every segment is being served and writes are taken; lists quarantined segments, what recovery did and a write-ahead log failure.</summary>
    public StoreHealth Health
    {
        get
        {
            List<QuarantinedSegment> q;
            lock (_quarantined) q = [.. _quarantined];
            List<string> notes;
            lock (_recoveryNotes) notes = [.. _recoveryNotes];
            var walFault = _wal.Fault;
            return new StoreHealth(q.Count == 0 && walFault is null, q, notes)
            {
                WriteFailure = walFault is null ? null : $"the write-ahead log failed ({walFault.Message}); writes are refused until the store is reopened",
            };
        }
    }

    public EngineStats GetStats()
    {
        var tables = new Dictionary<string, TableStats>(StringComparer.Ordinal);
        foreach (var t in _tables.Values)
        {
            var s = t.Snapshot;
            long sealedRows = 0, bytes = 0, raw = 0;
            long? min = null, max = null;
            var partitions = new HashSet<long>();
            foreach (var h in s.Segments.Values)
            {
                sealedRows += h.Footer.RowCount;
                bytes += h.FileBytes;
                raw += h.Footer.UncompressedBytes;
                partitions.UnionWith(h.Footer.Partitions);
                min = Math.Min(min ?? long.MaxValue, h.Footer.MinTime);
                max = Math.Max(max ?? long.MinValue, h.Footer.MaxTime);
            }
            long unsealed = 0;
            foreach (var b in s.Unsealed)
            {
                unsealed += b.Rows.Length;
                min = Math.Min(min ?? long.MaxValue, b.MinTime);
                max = Math.Max(max ?? long.MinValue, b.MaxTime);
            }
            tables[t.Name] = new TableStats(t.Name, t.Schema.Version, sealedRows + unsealed, sealedRows, unsealed, s.Segments.Count, partitions.Count,
                bytes, raw, bytes == 0 ? 0 : (double)raw / bytes, min, max);
        }
        List<QuarantinedSegment> quarantined;
        lock (_quarantined) quarantined = [.. _quarantined];
        return new EngineStats(tables, _wal.SizeBytes, _wal.Commits, _wal.LastAssignedSeq, _sealedSeq, _index.Entries, quarantined,
            Interlocked.Read(ref _retentionDeletedSegments), Interlocked.Read(ref _retentionRewrittenSegments),
            Interlocked.Read(ref _retentionDeletedRows), Interlocked.Read(ref _retentionDeletedBytes),
            Interlocked.Read(ref _segmentsRead), Interlocked.Read(ref _rowGroupsRead), Interlocked.Read(ref _flushes))
        { ChunkCache = ChunkCache.Stats, PendingSegmentDeletes = _replacedFiles.Pending, FailedSegmentDeletes = _replacedFiles.FailedDeletes };
    }

    internal void CountRead(int segments, int rowGroups)
    {
        Interlocked.Add(ref _segmentsRead, segments);
        Interlocked.Add(ref _rowGroupsRead, rowGroups);
    }

    // ------------------------------------------------------------------ shutdown

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _background.ConfigureAwait(false); }
        catch (OperationCanceledException) { /* stopping */ }
        await StopBulkLoadsAsync().ConfigureAwait(false);
        try
        {
            await FlushAsync().ConfigureAwait(false);
            await _maintenance.WaitAsync().ConfigureAwait(false);
            try { SaveDeliveryMarks(closing: true); } // the active time up to now (downtime does not count)
            finally { _maintenance.Release(); }
            _replacedFiles.DeleteAll();
        }
        finally
        {
            // A final flush that fails (an I/O error: the WAL keeps what it did not seal) still closes the store, so it
            // can be opened again; the error goes to the caller.
            await _wal.DisposeAsync().ConfigureAwait(false);
            _index.Dispose();
            _stop.Dispose();
            await _lockFile.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
