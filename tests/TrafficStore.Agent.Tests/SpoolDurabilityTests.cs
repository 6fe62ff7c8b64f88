using TrafficStore.Agent.Spool;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// What a power loss or a partial reset can leave of a spool. A file's entry in the spool directory (a new segment, a
/// renamed <c>ack</c>, <c>agent-id</c> or <c>numbered</c>) survives a power loss only once the directory is fsync'd:
/// <see cref="PowerLoss"/> models the disk from the directory fsyncs the spool issues. The server is modelled by its
/// delivery marks: a batch is stored when its sequence is above the highest its agent id had stored.
/// </summary>
public sealed class SpoolDurabilityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ts-spool-dur-").FullName;
    private readonly string _image = Directory.CreateTempSubdirectory("ts-spool-img-").FullName;

    public void Dispose()
    {
        foreach (var d in new[] { _dir, _image })
            try { Directory.Delete(d, recursive: true); } catch (IOException) { }
    }

    private static byte[] Payload(int i) => Enumerable.Range(0, 64).Select(b => (byte)(i * 7 + b)).ToArray();

    /// <summary>
    /// The spool directory as a power loss now would leave it: the entries present at its last fsync (the state when
    /// this was made counts as durable), small files with the content they had then (they are replaced by rename),
    /// segment files with their current content (appends to them are fsync'd in place).
    /// </summary>
    private sealed class PowerLoss : IDisposable
    {
        private readonly string _dir;
        private readonly Lock _gate = new();
        private Dictionary<string, byte[]?> _durable = [];

        public PowerLoss(string dir)
        {
            _dir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
            Snapshot();
            SpoolDirectory.Syncing += OnSync;
        }

        private void OnSync(string directory)
        {
            if (directory == _dir) Snapshot();
        }

        private void Snapshot()
        {
            lock (_gate)
                _durable = Directory.EnumerateFiles(_dir).ToDictionary(f => Path.GetFileName(f), f => f.EndsWith(".spool", StringComparison.Ordinal) ? null : File.ReadAllBytes(f))!;
        }

        public void Image(string to)
        {
            foreach (var f in Directory.EnumerateFiles(to)) File.Delete(f);
            lock (_gate)
                foreach (var (name, content) in _durable)
                {
                    var target = Path.Combine(to, name);
                    if (content is not null) File.WriteAllBytes(target, content);
                    else if (File.Exists(Path.Combine(_dir, name))) File.Copy(Path.Combine(_dir, name), target);
                }
        }

        public void Dispose() => SpoolDirectory.Syncing -= OnSync;
    }

    /// <summary>The server's delivery marks: the highest batch stored per agent id.</summary>
    private sealed class ServerMarks
    {
        private readonly Dictionary<string, long> _marks = [];

        /// <summary>Ships <paramref name="entry"/>; true when the server stores it, false when it takes it for a duplicate.</summary>
        public bool Ship(string agentId, SpoolEntry entry)
        {
            long mark = _marks.GetValueOrDefault(agentId);
            if (entry.Sequence <= mark) return false;
            _marks[agentId] = entry.Sequence;
            return true;
        }
    }

    /// <summary>Takes every pending batch, oldest first, acknowledging each.</summary>
    private static List<SpoolEntry> Pending(DiskSpool spool)
    {
        var all = new List<SpoolEntry>();
        while (spool.TryPeek(out var e)) { all.Add(e); spool.Acknowledge(e); }
        return all;
    }

    [Fact]
    public void AppendedAndAcknowledgedBatches_SurviveAPowerLoss()
    {
        using var loss = new PowerLoss(_dir);
        string id;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            id = spool.AgentId;
            for (int i = 0; i < 3; i++) spool.Append("dns", 1, Payload(i));
            Assert.True(spool.TryPeek(out var first));
            spool.Acknowledge(first);
            loss.Image(_image); // the power goes while the spool is open
        }
        using var after = new DiskSpool(_image, 1 << 20);
        Assert.Equal(id, after.AgentId);
        Assert.Null(after.NewIdentity);
        var pending = Pending(after);
        Assert.Equal([2L, 3L], pending.Select(e => e.Sequence));
        Assert.Equal([Payload(1), Payload(2)], pending.Select(e => e.Data));
    }

    [Fact]
    public void ANewAgentId_IsDurableBeforeAnythingIsNumberedUnderIt()
    {
        string oldId;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            oldId = spool.AgentId;
            spool.Append("dns", 1, Payload(0));
            foreach (var _ in Pending(spool)) { }
        }
        // A reset that keeps agent-id: the spool takes a new identity.
        foreach (var f in Directory.EnumerateFiles(_dir).Where(f => Path.GetFileName(f) != "agent-id")) File.Delete(f);
        using var loss = new PowerLoss(_dir);
        using var reset = new DiskSpool(_dir, 1 << 20);
        Assert.NotEqual(oldId, reset.AgentId);
        loss.Image(_image);
        Assert.Equal(reset.AgentId, File.ReadAllText(Path.Combine(_image, "agent-id")).Trim());

        reset.Append("dns", 1, Payload(1));
        loss.Image(_image);
        using var after = new DiskSpool(_image, 1 << 20);
        Assert.Equal(reset.AgentId, after.AgentId);
        Assert.Equal([1L], Pending(after).Select(e => e.Sequence));
    }

    [Fact]
    public void SegmentsDeleted_AckAndAgentIdKept_NumberingGoesOnPastEveryBatchNumbered()
    {
        var server = new ServerMarks();
        string id;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            id = spool.AgentId;
            for (int i = 0; i < 5; i++) spool.Append("dns", 1, Payload(i));
            // All five reach the server; only the first two answers come back.
            for (int i = 0; i < 2; i++)
            {
                Assert.True(spool.TryPeek(out var e));
                Assert.True(server.Ship(id, e));
                spool.Acknowledge(e);
            }
            foreach (var e in SequencesFrom(spool, 3, 5)) Assert.True(server.Ship(id, e));
        }
        foreach (var f in Directory.EnumerateFiles(_dir, "*.spool")) File.Delete(f);
        Assert.True(File.Exists(Path.Combine(_dir, "ack")));

        using (var restarted = new DiskSpool(_dir, 1 << 20))
        {
            Assert.Equal(id, restarted.AgentId); // the numbering is known: the identity stays
            for (int i = 10; i < 13; i++) restarted.Append("dns", 1, Payload(i));
            var shipped = Pending(restarted);
            Assert.Equal(3, shipped.Count);
            Assert.All(shipped, e => Assert.True(server.Ship(id, e), $"batch {e.Sequence} was taken for a duplicate"));
            Assert.Equal([6L, 7L, 8L], shipped.Select(e => e.Sequence)); // a clean close left no gap
        }
    }

    [Fact]
    public void AfterAPowerLoss_SegmentsDeleted_NumberingGoesOnPastEveryBatchNumbered()
    {
        var server = new ServerMarks();
        using var loss = new PowerLoss(_dir);
        string id;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            id = spool.AgentId;
            for (int i = 0; i < 5; i++) spool.Append("dns", 1, Payload(i));
            foreach (var e in SequencesFrom(spool, 1, 5)) Assert.True(server.Ship(id, e)); // stored, never acknowledged
            loss.Image(_image);
        }
        foreach (var f in Directory.EnumerateFiles(_image, "*.spool")) File.Delete(f);
        using var after = new DiskSpool(_image, 1 << 20);
        Assert.Equal(id, after.AgentId);
        after.Append("dns", 1, Payload(9));
        var shipped = Assert.Single(Pending(after));
        Assert.True(server.Ship(id, shipped));
        Assert.True(shipped.Sequence > 5);
    }

    [Fact]
    public void WhenTheNumberedFileIsGoneToo_TheSpoolTakesANewIdentity()
    {
        string id;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            id = spool.AgentId;
            spool.Append("dns", 1, Payload(0));
            spool.Append("dns", 1, Payload(1));
            Assert.True(spool.TryPeek(out var e));
            spool.Acknowledge(e);
        }
        foreach (var f in Directory.EnumerateFiles(_dir).Where(f => Path.GetFileName(f) is not ("agent-id" or "ack"))) File.Delete(f);
        using var reset = new DiskSpool(_dir, 1 << 20);
        Assert.NotEqual(id, reset.AgentId);
        Assert.Contains(id, reset.NewIdentity);
    }

    /// <summary>Reads the batches numbered <paramref name="from"/>..<paramref name="to"/> from a copy of the spool (no acknowledgement on the original).</summary>
    private List<SpoolEntry> SequencesFrom(DiskSpool spool, long from, long to)
    {
        var copy = Directory.CreateTempSubdirectory("ts-spool-read-").FullName;
        try
        {
            foreach (var f in Directory.EnumerateFiles(spool.DirectoryPath).Where(f => f.EndsWith(".spool", StringComparison.Ordinal) || Path.GetFileName(f) == "agent-id"))
                File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
            using var view = new DiskSpool(copy, 1 << 20);
            return Pending(view).Where(e => e.Sequence >= from && e.Sequence <= to).ToList();
        }
        finally { Directory.Delete(copy, recursive: true); }
    }
}
