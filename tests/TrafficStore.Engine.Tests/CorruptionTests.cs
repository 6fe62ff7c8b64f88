using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

public class CorruptionTests
{
    private static async Task<string[]> SealedStore(string dir)
    {
        await using var engine = TrafficStoreEngine.Open(Options(dir) with { RowGroupRows = 128 });
        engine.RegisterTable(QueryTests.ConnSpec);
        await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(1200)));
        await engine.FlushAsync();
        return Directory.GetFiles(Path.Combine(dir, "segments", "conns"), "*.seg", SearchOption.AllDirectories).Order().ToArray();
    }

    private static void FlipByte(string path, long offset)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset;
        int b = f.ReadByte();
        f.Position = offset;
        f.WriteByte((byte)(b ^ 0x5A));
    }

    [Fact]
    public async Task FlippedChunkByteIsDetectedOnReadQuarantinedAndReported()
    {
        using var dir = new TempDir();
        var segments = await SealedStore(dir.Path);
        Assert.Equal(3, segments.Length); // 1200 rows x 120 ms = 144 s: partitions 0, 1, 2
        FlipByte(segments[1], 8 + 3); // inside the first chunk of the middle partition

        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.True(engine.Health.Healthy); // the footer is intact: chunks are checked on read
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns"), diag);
        var warning = Assert.Single(diag.Warnings);
        Assert.Equal(QueryWarning.CorruptSegment, warning.Kind);
        Assert.Equal(QueryTests.Model(1200).Count(r => r.Time < Base + 60 * Second || r.Time >= Base + 120 * Second), rows.Count);
        Assert.False(File.Exists(segments[1]));
        var quarantined = Assert.Single(engine.Health.Quarantined);
        Assert.True(File.Exists(quarantined.QuarantinePath));
        Assert.Contains("checksum", quarantined.Reason);
        Assert.Equal(2, engine.GetStats().Tables["conns"].Segments);

        // Later queries touching its range say so; a query elsewhere does not.
        var later = new QueryDiagnostics();
        await Rows(engine, new QuerySpec("conns") { From = Base + 70 * Second, To = Base + 80 * Second }, later);
        Assert.Equal(QueryWarning.QuarantinedSegmentInRange, Assert.Single(later.Warnings).Kind);
        var elsewhere = new QueryDiagnostics();
        await Rows(engine, new QuerySpec("conns") { From = Base, To = Base + 10 * Second }, elsewhere);
        Assert.Empty(elsewhere.Warnings);
        await engine.DisposeAsync();

        // The quarantine survives a restart.
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.Single(reopened.Health.Quarantined);
    }

    [Fact]
    public async Task FailOnCorruptionThrowsTheDocumentedException()
    {
        using var dir = new TempDir();
        var segments = await SealedStore(dir.Path);
        FlipByte(segments[0], 8);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        await Assert.ThrowsAsync<SegmentCorruptException>(async () => await Rows(engine, new QuerySpec("conns") { FailOnCorruption = true }));
        Assert.Single(engine.Health.Quarantined);
    }

    [Fact]
    public async Task DamagedFooterIsDetectedOnOpen()
    {
        using var dir = new TempDir();
        var segments = await SealedStore(dir.Path);
        FlipByte(segments[2], new FileInfo(segments[2]).Length - 30); // last footer byte before the trailer
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        Assert.False(engine.Health.Healthy);
        Assert.Contains("footer", Assert.Single(engine.Health.Quarantined).Reason);
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns"), diag);
        Assert.Equal(QueryTests.Model(1200).Count(r => r.Time < Base + 120 * Second), rows.Count);
        Assert.Contains(diag.Warnings, w => w.Kind == QueryWarning.QuarantinedSegmentInRange);
    }

    [Fact]
    public async Task VerifyChunksOnOpenFindsDamageBeforeAnyQuery()
    {
        using var dir = new TempDir();
        var segments = await SealedStore(dir.Path);
        FlipByte(segments[0], 100);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true });
        Assert.Single(engine.Health.Quarantined);
    }

    [Fact]
    public async Task TornWalTailIsTruncatedAndEarlierRecordsKept()
    {
        using var dir = new TempDir();
        var copy = dir.Path + "-crashed";
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            var model = QueryTests.Model(30);
            for (int i = 0; i < 3; i++) await engine.AppendAsync("conns", QueryTests.ToBatch(model.Skip(i * 10).Take(10).ToList()));
            CopyStoreImage(dir.Path, copy); // as if the process died here
        }
        try
        {
            var wal = Directory.GetFiles(Path.Combine(copy, "wal"), "*.wal").Order().Last();
            long length = new FileInfo(wal).Length;
            using (var f = new FileStream(wal, FileMode.Open)) f.SetLength(length - 5); // tear the last record
            await using var engine = TrafficStoreEngine.Open(Options(copy));
            Assert.Equal(20, (await Rows(engine, new QuerySpec("conns"))).Count);
            Assert.Contains(engine.Health.RecoveryNotes, n => n.Contains("torn tail"));
            Assert.Equal(2, engine.GetStats().LastSequence); // the torn record's sequence number is reused
        }
        finally { Directory.Delete(copy, true); }
    }
}

public class CorruptionDuringRetentionTests
{
    [Fact]
    public async Task NamespaceRetentionQuarantinesACorruptSegmentAndGoesOn()
    {
        using var dir = new TempDir();
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path)))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(1200)));
            await engine.FlushAsync();
        }
        var first = Directory.GetFiles(Path.Combine(dir.Path, "segments", "conns"), "*.seg", SearchOption.AllDirectories).Order().First();
        using (var f = new FileStream(first, FileMode.Open, FileAccess.ReadWrite)) { f.Position = 9; int b = f.ReadByte(); f.Position = 9; f.WriteByte((byte)(b ^ 0xFF)); }
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path) with { Clock = new FixedClock(QuerySpec.FromNs(Base + 10 * Minute)) });
        await reopened.SetRetentionPolicyAsync(new Retention.RetentionPolicy
        {
            Namespaces = new Dictionary<string, Retention.RetentionLimits> { ["ns1"] = new(MaxAge: TimeSpan.FromMinutes(8.5)) },
        });
        var report = await reopened.ApplyRetentionAsync();
        Assert.Single(reopened.Health.Quarantined);
        Assert.Single(report.Actions); // partition 1 (60..90 s) rewritten without ns1 rows; partition 0 is quarantined
        var rows = await Rows(reopened, new QuerySpec("conns"));
        long cutoff = Base + 90 * Second;
        Assert.Equal(QueryTests.Model(1200).Count(r => r.Time >= Minute + Base && !(r.Ns == "ns1" && r.Time < cutoff)), rows.Count);
    }
}
