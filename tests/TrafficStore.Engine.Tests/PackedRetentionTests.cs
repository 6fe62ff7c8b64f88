using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.PackedSegmentTests;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Retention of packed segments (format 3): age and size limits delete by partition, not by file, so a packed file's
/// older partitions go when they are due (the file is rewritten without them), and a crash at any step of the rewrite
/// leaves a store that reopens consistent: no expired row served again, no other row lost, no index posting left over.
/// </summary>
public class PackedRetentionTests
{
    private static readonly string[] Pods = Enumerable.Range(0, 10).Select(i => $"pod-{i}").ToArray();

    private static StoreOptions At(string dir, long nowNs, List<string>? log = null) => Options(dir) with
    {
        RowGroupRows = 100,
        Clock = new FixedClock(QuerySpec.FromNs(nowNs)),
        Log = log is null ? null : (_, m) => { lock (log) log.Add(m); },
    };

    private static async Task<List<long>> Times(TrafficStoreEngine engine) =>
        (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!).ToList();

    private static List<long> TimesFrom(IEnumerable<QueryTests.Row> model, int minute) =>
        model.Where(r => r.Time >= Base + minute * Minute).Select(r => r.Time).Order().ToList();

    /// <summary>
    /// Every index posting of minutes 0..5 names a served segment and row groups of that partition in it; minutes
    /// without rows have none; a lookup in a minute with rows finds exactly the pods the minute's rows hold.
    /// </summary>
    private static async Task AssertIndexMatchesTheRows(TrafficStoreEngine engine)
    {
        var segments = engine.TableState("conns").Snapshot.Segments;
        var rows = await Rows(engine, new QuerySpec("conns"));
        for (int minute = 0; minute < 6; minute++)
        {
            long partition = Base + minute * Minute;
            foreach (var pod in Pods)
            {
                var (matches, _) = engine.Index.Lookup("conns", "pod", [pod], [partition], long.MinValue, long.MaxValue);
                foreach (var (segmentId, groups) in matches)
                {
                    Assert.True(segments.TryGetValue(segmentId, out var h), $"posting of minute {minute} names segment {segmentId}, which is gone");
                    Assert.All(groups, g => Assert.Equal(partition, h!.Footer.RowGroups[g].Partition));
                }
                bool held = rows.Any(r => (string)r["pod"]! == pod && (long)r["time"]! >= partition && (long)r["time"]! < partition + Minute);
                Assert.Equal(held, matches.Count > 0);
            }
        }
    }

    [Fact]
    public async Task AgePolicyRewritesAPackedSegmentWithoutItsExpiredPartitions()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(); // minutes 0..5, 500 rows each
        var log = new List<string>();
        var options = At(dir.Path, Base + 10 * Minute, log);
        long indexEntries;
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            // Two seal units: minutes 0..2 and 3..5, one packed segment each.
            await BulkLoad(engine, model.Where(r => r.Time < Base + 3 * Minute).ToList());
            await BulkLoad(engine, model.Where(r => r.Time >= Base + 3 * Minute).ToList());
            var footers = Footers(dir.Path);
            Assert.Equal([3, 3], footers.Select(f => f.Partitions.Count));
            var events = new List<RetentionAction>();
            engine.RetentionApplied += events.Add;

            // Cutoff now − 7.5 min = 2:30: minutes 0 and 1 are due, minute 2 straddles the cutoff and stays whole.
            await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
            var report = await engine.ApplyRetentionAsync();
            var action = Assert.Single(report.Actions);
            Assert.Equal((RetentionActionKind.RewroteSegment, footers[0].SegmentId, Base, 1000L),
                (action.Kind, action.SegmentId, action.PartitionStart, action.RowsDeleted));
            Assert.Equal(report.Actions, events);
            Assert.Single(log, l => l.StartsWith("Retention RewroteSegment", StringComparison.Ordinal) && l.Contains("2 partitions 20260101T000000Z..20260101T000100Z"));
            Assert.Equal(TimesFrom(model, 2), await Times(engine));

            var after = Footers(dir.Path);
            Assert.Equal(2, after.Count);
            var rewritten = after.Single(f => f.Replaces == footers[0].SegmentId);
            Assert.Equal([Base + 2 * Minute], rewritten.Partitions);
            // The kept row groups are copied as they were (streamed one at a time), not gathered, sorted and cut again.
            Assert.Equal(footers[0].RowGroups.Where(g => g.Partition == Base + 2 * Minute).Select(g => g.RowCount), rewritten.RowGroups.Select(g => g.RowCount));
            Assert.Contains(after, f => f.SegmentId == footers[1].SegmentId); // the other packed file is untouched
            foreach (var file in SegmentFiles(dir.Path)) AssertRowGroupsStayInTheirPartition(file);
            await AssertIndexMatchesTheRows(engine);
            var stats = engine.GetStats();
            Assert.Equal((1L, 0L, 1000L), (stats.RetentionRewrittenSegments, stats.RetentionDeletedSegments, stats.RetentionDeletedRows));
            Assert.True(stats.RetentionDeletedBytes > 0);
            Assert.Equal(4, stats.Tables["conns"].Partitions);
            Assert.Empty((await engine.ApplyRetentionAsync()).Actions); // idempotent

            // Cutoff 4:30: the rewritten file (minute 2) goes whole; minute 3 leaves the second packed file, minute 4 stays.
            await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(5.5)) });
            report = await engine.ApplyRetentionAsync();
            Assert.Equal([(RetentionActionKind.DeletedSegment, rewritten.SegmentId, 500L), (RetentionActionKind.RewroteSegment, footers[1].SegmentId, 500L)],
                report.Actions.Select(a => (a.Kind, a.SegmentId, a.RowsDeleted)));
            Assert.Equal(TimesFrom(model, 4), await Times(engine));
            Assert.Equal([Base + 4 * Minute, Base + 5 * Minute], Assert.Single(Footers(dir.Path)).Partitions);
            await AssertIndexMatchesTheRows(engine);
            Assert.Empty(await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", 10L)))); // minute 0's
            indexEntries = engine.GetStats().IndexEntries;
        }

        // Reopened: the index rebuilt from the footers holds exactly what retention left in memory.
        await using var reopened = TrafficStoreEngine.Open(options);
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(TimesFrom(model, 4), await Times(reopened));
        Assert.Equal(indexEntries, reopened.GetStats().IndexEntries);
        await AssertIndexMatchesTheRows(reopened);
        Assert.Empty((await reopened.ApplyRetentionAsync()).Actions);
    }

    /// <summary>
    /// The two crash points of a rewrite: before the replacement is renamed into place (a temp file of it is left;
    /// the original must still serve every row) and after it is durable but before the original is deleted (open must
    /// delete the original rather than serve the expired rows again, or the kept ones twice).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ACrashBetweenTheStepsOfAPackedRewriteReopensConsistent(bool replacementDurable)
    {
        using var dir = new TempDir();
        using var beforeRetention = new TempDir();
        var model = QueryTests.Model();
        var options = At(dir.Path, Base + 10 * Minute);
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, model);
            await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
        }
        CopyStoreImage(dir.Path, beforeRetention.Path, withIndex: false);
        string original = Assert.Single(SegmentFiles(dir.Path));
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            Assert.Equal(RetentionActionKind.RewroteSegment, Assert.Single((await engine.ApplyRetentionAsync()).Actions).Kind);
        }
        string replacement = Assert.Single(SegmentFiles(dir.Path));
        Assert.NotEqual(Path.GetDirectoryName(original), Path.GetDirectoryName(replacement)); // it moved to minute 2's folder
        var replacementBytes = await File.ReadAllBytesAsync(replacement);
        string originalCopy = Path.Combine(beforeRetention.Path, Path.GetRelativePath(dir.Path, original));
        if (replacementDurable)
        {
            // The old file's delete never happened (so neither did the removal of its then empty folder).
            Directory.CreateDirectory(Path.GetDirectoryName(original)!);
            File.Copy(originalCopy, original);
        }
        else
        {
            // The store as it was, plus the replacement half written under its temp name.
            Directory.Delete(dir.Path, recursive: true);
            CopyStoreImage(beforeRetention.Path, dir.Path, withIndex: false);
            Directory.CreateDirectory(Path.GetDirectoryName(replacement)!);
            await File.WriteAllBytesAsync(replacement + ".tmp", replacementBytes[..(replacementBytes.Length / 2)]);
        }

        await using (var reopened = TrafficStoreEngine.Open(options))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            Assert.Equal(replacementDurable ? TimesFrom(model, 2) : TimesFrom(model, 0), await Times(reopened));
            Assert.Equal(replacementDurable ? replacement : original, Assert.Single(SegmentFiles(dir.Path)));
            Assert.Equal(!replacementDurable, Directory.Exists(Path.GetDirectoryName(original))); // open removes the folder it emptied
            Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
            Assert.Contains(reopened.Health.RecoveryNotes, n => n.Contains(replacementDurable ? "already replaced by a retention rewrite" : "Removed unfinished temp file"));
            Assert.Empty(reopened.Health.Quarantined);
            await AssertIndexMatchesTheRows(reopened);

            // The next retention run finishes the job either way.
            Assert.Equal(replacementDurable ? 0 : 1, (await reopened.ApplyRetentionAsync()).Actions.Count);
            Assert.Equal(TimesFrom(model, 2), await Times(reopened));
            await AssertIndexMatchesTheRows(reopened);
        }
    }

    /// <summary>
    /// A query reads the snapshot it started with: a rewrite that replaces a packed segment the query has not opened yet
    /// does not make it miss the rows the rewrite kept (the old file stays until the query ends, then goes); a query
    /// started after the rewrite sees the replacement only.
    /// </summary>
    [Fact]
    public async Task AQueryRunningAcrossARewriteReadsItsSnapshotWhole()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model.Where(r => r.Time < Base + 3 * Minute).ToList());
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 3 * Minute).ToList());
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });

        // Newest first: minutes 5..3 come from the second file before the query opens the first one.
        var times = new List<long>();
        await using (var running = engine.QueryAsync(new QuerySpec("conns") { OrderByTime = true, Descending = true, MaxBatchRows = 100 }.Select("time")).GetAsyncEnumerator())
        {
            Assert.True(await running.MoveNextAsync());
            times.AddRange(Enumerable.Range(0, running.Current.Length).Select(i => ((Apache.Arrow.TimestampArray)running.Current.Column(0)).Values[i]));
            Assert.Equal(RetentionActionKind.RewroteSegment, Assert.Single((await engine.ApplyRetentionAsync()).Actions).Kind);
            Assert.Equal(TimesFrom(model, 2), await Times(engine)); // a new query: the replacement
            Assert.Equal(1, engine.ReplacedFiles.Pending);
            Assert.Equal(3, SegmentFiles(dir.Path).Count);         // the replaced file is still there for the running query
            while (await running.MoveNextAsync())
                times.AddRange(Enumerable.Range(0, running.Current.Length).Select(i => ((Apache.Arrow.TimestampArray)running.Current.Column(0)).Values[i]));
        }
        Assert.Equal(model.Select(r => r.Time).OrderDescending(), times); // every row of the snapshot it started with
        Assert.Equal(0, engine.ReplacedFiles.Pending);
        Assert.Equal(2, SegmentFiles(dir.Path).Count);
    }

    /// <summary>
    /// A replaced file kept for a running query must not outlive the segment that names it as replaced: when retention
    /// then deletes that replacement whole, the kept file goes first, or a crash would bring its rows back on open.
    /// </summary>
    [Fact]
    public async Task AFileKeptForAQueryIsNotResurrectedWhenItsReplacementIsDeleted()
    {
        using var dir = new TempDir();
        using var crashed = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model.Where(r => r.Time < Base + 3 * Minute).ToList());
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 3 * Minute).ToList());

        await using var running = engine.QueryAsync(new QuerySpec("conns") { MaxBatchRows = 100 }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // holds the snapshot of both original files
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7.5)) });
        await engine.ApplyRetentionAsync();          // minutes 0..2 file rewritten to minute 2; the original kept for the query
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(6)) });
        var second = await engine.ApplyRetentionAsync(); // minute 2's file deleted whole; minute 3 leaves the other file
        Assert.Equal([RetentionActionKind.DeletedSegment, RetentionActionKind.RewroteSegment], second.Actions.Select(a => a.Kind));

        // A crash now: the store's files as they are, the engine never closed.
        CopyStoreImage(dir.Path, crashed.Path, withIndex: false);
        await using (var reopened = TrafficStoreEngine.Open(At(crashed.Path, Base + 10 * Minute)))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            Assert.Equal(TimesFrom(model, 4), await Times(reopened));
            await AssertIndexMatchesTheRows(reopened);
        }
        Assert.Equal(1, engine.ReplacedFiles.Pending); // the second original, still named by its replacement
        while (await running.MoveNextAsync()) { }
        Assert.Equal(0, engine.ReplacedFiles.Pending);
    }

    /// <summary>
    /// A chain of replaced files kept for a running query (original → first rewrite → second rewrite) when the process
    /// crashes: open must delete the replaced files oldest first. Had it deleted the middle one first (its folder happening
    /// to come first in the directory walk), a second crash before the original's delete would leave the original named by
    /// no file, and the next open would serve it again (expired rows back).
    /// </summary>
    [Fact]
    public async Task OpenDeletesAChainOfReplacedFilesOldestFirst()
    {
        using var dir = new TempDir();
        using var crashed = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model); // one packed file, minutes 0..5
        long original = Footers(dir.Path).Single().SegmentId;

        await using var running = engine.QueryAsync(new QuerySpec("conns") { MaxBatchRows = 100 }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // keeps every replaced file until it ends
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(9)) });
        await engine.ApplyRetentionAsync(); // minute 0 goes: rewrite 1 replaces the original
        long first = Footers(dir.Path).Single(f => f.Replaces == original).SegmentId;
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(8)) });
        await engine.ApplyRetentionAsync(); // minute 1 goes: rewrite 2 replaces rewrite 1
        Assert.Equal(3, SegmentFiles(dir.Path).Count);

        CopyStoreImage(dir.Path, crashed.Path, withIndex: false); // a crash now
        await using (var reopened = TrafficStoreEngine.Open(At(crashed.Path, Base + 10 * Minute)))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            Assert.Equal(TimesFrom(model, 2), await Times(reopened));
            var notes = reopened.Health.RecoveryNotes.ToList();
            int originalNote = notes.FindIndex(n => n.StartsWith($"Removed segment {original} ", StringComparison.Ordinal));
            int firstNote = notes.FindIndex(n => n.StartsWith($"Removed segment {first} ", StringComparison.Ordinal));
            Assert.True(originalNote >= 0 && firstNote >= 0, string.Join(" | ", notes));
            Assert.True(originalNote < firstNote, $"open deleted rewrite {first} before the original {original} it replaced: " + string.Join(" | ", notes));
        }
        while (await running.MoveNextAsync()) { }
    }

    /// <summary>
    /// A query may quarantine a segment while a retention pass that planned to rewrite it is running (the pass works from
    /// the list it made first). The rewrite then finds the file gone: the pass goes on (the segment is no longer served, so
    /// there is nothing of it to retain or delete) instead of failing with FileNotFoundException.
    /// </summary>
    [Fact]
    public async Task RetentionGoesOnWhenASegmentItPlannedToRewriteIsQuarantinedMeanwhile()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        TrafficStoreEngine? current = null;
        bool quarantined = false;
        var options = At(dir.Path, Base + 10 * Minute) with
        {
            Log = (_, message) =>
            {
                // The first retention action (the older file deleted whole): a query now finds the newer file corrupt.
                if (current is null || quarantined || !message.Contains("global max age", StringComparison.Ordinal)) return;
                quarantined = true;
                var newer = current.TableState("conns").Snapshot.Segments.Values.Single(h => h.Footer.MinTime >= Base + 2 * Minute);
                current.Quarantine("conns", newer.Path, "checksum mismatch (simulated query)", newer.Footer);
            },
        };
        await using var engine = TrafficStoreEngine.Open(options);
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model.Where(r => r.Time < Base + 2 * Minute).ToList());  // minutes 0..1: all due
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 2 * Minute).ToList()); // minutes 2..5: minute 2 due, a rewrite
        current = engine;

        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(7)) }); // cutoff: minute 3
        var report = await engine.ApplyRetentionAsync();
        Assert.True(quarantined);
        Assert.Equal([RetentionActionKind.DeletedSegment], report.Actions.Select(a => a.Kind));
        Assert.Empty(await Times(engine));
        Assert.Single(engine.Health.Quarantined);
    }

    /// <summary>
    /// A replaced file kept for a running query can itself be quarantined by that query (a bad chunk), which moves it out
    /// and removes its then empty folder. When the query ends, the deferred delete of the file must not fail on the missing
    /// folder: the query would end with a DirectoryNotFoundException after returning all its rows.
    /// </summary>
    [Fact]
    public async Task AKeptReplacedFileQuarantinedMeanwhileDoesNotFailTheQueryThatEnds()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model); // one packed file, minutes 0..5, in minute 0's folder
        var original = engine.TableState("conns").Snapshot.Segments.Values.Single();

        await using var running = engine.QueryAsync(new QuerySpec("conns") { MaxBatchRows = 100 }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // keeps the original's file until it ends
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(9)) });
        await engine.ApplyRetentionAsync(); // minute 0 goes: the replacement lives in minute 1's folder
        Assert.Equal(1, engine.ReplacedFiles.Pending);
        engine.Quarantine("conns", original.Path, "checksum mismatch (simulated query)", original.Footer);
        Assert.False(Directory.Exists(Path.GetDirectoryName(original.Path)));

        while (await running.MoveNextAsync()) { }
        Assert.Equal(0, engine.ReplacedFiles.Pending);
        Assert.Equal(TimesFrom(model, 1), await Times(engine));
    }

    /// <summary>
    /// A crash leaves a replaced file (kept for a query) and its replacement, and open finds a bad chunk in the replacement
    /// (VerifyChunksOnOpen): quarantining the replacement must not bring the replaced file back, as at run time (quarantining
    /// a segment deletes the file it replaced first). Otherwise the rows retention deleted (minute 0) are served again.
    /// </summary>
    [Fact]
    public async Task AReplacementQuarantinedOnOpenDoesNotBringBackTheFileItReplaced()
    {
        using var dir = new TempDir();
        using var crashed = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model); // one packed file, minutes 0..5

        await using var running = engine.QueryAsync(new QuerySpec("conns") { MaxBatchRows = 100 }).GetAsyncEnumerator();
        Assert.True(await running.MoveNextAsync()); // keeps the original's file
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(9)) });
        await engine.ApplyRetentionAsync(); // minute 0 goes: the replacement names the original
        CopyStoreImage(dir.Path, crashed.Path, withIndex: false); // a crash now
        while (await running.MoveNextAsync()) { }

        var replacement = SegmentFiles(crashed.Path).Single(f => SegmentReader.ReadFooter(f).Replaces != 0);
        var chunk = SegmentReader.ReadFooter(replacement).Chunks[0][0];
        using (var file = new FileStream(replacement, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = chunk.Offset;
            int b = file.ReadByte();
            file.Position = chunk.Offset;
            file.WriteByte((byte)(b ^ 0xFF));
        }
        await using var reopened = TrafficStoreEngine.Open(At(crashed.Path, Base + 10 * Minute) with { VerifyChunksOnOpen = true });
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Single(reopened.Health.Quarantined);
        Assert.DoesNotContain(await Times(reopened), t => t < Base + Minute);
        Assert.Empty(SegmentFiles(crashed.Path));
    }

    /// <summary>
    /// Oldest first across segments: a packed file's first partition is older than a one-partition segment written
    /// later for minute 1, so a limit one byte under the store's size takes that partition, not the newer segment
    /// (nor the whole packed file, whose newest row is the store's newest).
    /// </summary>
    [Fact]
    public async Task MaxBytesTakesTheOldestPartitionOfAPackedSegmentBeforeANewerSegment()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        var late = QueryTests.Model(50, 100_000_000).Select((r, i) => r with { Time = r.Time + Minute, End = null, ConnId = 100_000 + i }).ToList();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model);                                 // one packed file, minutes 0..5
        await engine.AppendAsync("conns", QueryTests.ToBatch(late));   // minute 1, 0:00..0:05 into it
        await engine.FlushAsync();                                     // a segment of its own
        var packed = Footers(dir.Path).Single(f => f.IsPacked);
        long total = SegmentFiles(dir.Path).Sum(f => new FileInfo(f).Length);

        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxBytes: total - 1) });
        var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions);
        Assert.Equal((RetentionActionKind.RewroteSegment, packed.SegmentId, Base, 500L), (action.Kind, action.SegmentId, action.PartitionStart, action.RowsDeleted));
        Assert.Equal(TimesFrom(model.Concat(late), 1), await Times(engine));
        Assert.True(engine.GetStats().Tables["conns"].BytesOnDisk <= total - 1);
        await AssertIndexMatchesTheRows(engine);
    }

    /// <summary>A limit that needs half of the older packed file's bytes takes its two oldest partitions of three, in one rewrite.</summary>
    [Fact]
    public async Task MaxBytesDropsOldestPartitionsUntilTheStoreFits()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 3 * Minute).ToList()); // loaded newest first
        await BulkLoad(engine, model.Where(r => r.Time < Base + 3 * Minute).ToList());
        var files = SegmentFiles(dir.Path).Select(f => (Footer: SegmentReader.ReadFooter(f), Bytes: new FileInfo(f).Length)).OrderBy(x => x.Footer.MinTime).ToList();
        long limit = files[1].Bytes + files[0].Bytes / 2;

        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxBytes: limit) });
        var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions);
        Assert.Equal((RetentionActionKind.RewroteSegment, files[0].Footer.SegmentId, 1000L), (action.Kind, action.SegmentId, action.RowsDeleted));
        Assert.Equal(TimesFrom(model, 2), await Times(engine));
        Assert.True(engine.GetStats().Tables["conns"].BytesOnDisk <= limit);
        await AssertIndexMatchesTheRows(engine);
    }

    /// <summary>
    /// A namespace's byte limit also goes oldest piece first: its rows in the packed file's first minute are older than
    /// those in a one-partition segment written later for minute 1, so a limit just under the namespace's share takes
    /// them (the packed file rewritten without them), not the newer segment's.
    /// </summary>
    [Fact]
    public async Task NamespaceMaxBytesTakesTheNamespacesRowsOfTheOldestPartitionFirst()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(); // ns0..ns3 in turn: 125 rows of ns1 a minute
        var late = QueryTests.Model(50, 100_000_000).Select((r, i) => r with { Time = r.Time + Minute, End = null, Ns = "ns1", ConnId = 100_000 + i }).ToList();
        await using var engine = TrafficStoreEngine.Open(At(dir.Path, Base + 10 * Minute));
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model);
        await engine.AppendAsync("conns", QueryTests.ToBatch(late));
        await engine.FlushAsync();
        var files = SegmentFiles(dir.Path).Select(f => (Footer: SegmentReader.ReadFooter(f), Bytes: new FileInfo(f).Length)).ToList();
        var packed = files.Single(f => f.Footer.IsPacked);
        long lateBytes = files.Single(f => !f.Footer.IsPacked).Bytes;
        // ns1's share: a quarter of the packed file (a quarter of each minute's rows) and all of the late segment.
        // The limit is half a minute's share under it: one minute's ns1 rows must go, and the oldest are minute 0's.
        long limit = packed.Bytes / 4 + lateBytes - packed.Bytes / 48;

        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Namespaces = new Dictionary<string, RetentionLimits> { ["ns1"] = new(MaxBytes: limit) } });
        var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions);
        Assert.Equal((RetentionActionKind.RewroteSegment, packed.Footer.SegmentId, "ns1", 125L), (action.Kind, action.SegmentId, action.Namespace, action.RowsDeleted));
        var expected = model.Concat(late).Where(r => !(r.Ns == "ns1" && r.Time < Base + Minute)).Select(r => r.Time).Order().ToList();
        Assert.Equal(expected, await Times(engine));
        var rewritten = Footers(dir.Path).Single(f => f.Replaces == packed.Footer.SegmentId);
        Assert.Equal(packed.Footer.Partitions, rewritten.Partitions); // minute 0 keeps its other namespaces
        await AssertIndexMatchesTheRows(engine);
    }
}
