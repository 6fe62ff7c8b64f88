using TrafficStore.Agent.Spool;

namespace TrafficStore.Agent.Tests;

public sealed class DiskSpoolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ts-spool-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static byte[] Payload(int i, int size = 100) => Enumerable.Range(0, size).Select(b => (byte)(i * 7 + b)).ToArray();

    [Fact]
    public void BatchesComeOutInAppendOrderAndAcknowledgedOnesStayGoneAfterARestart()
    {
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            for (int i = 0; i < 10; i++) spool.Append(i % 2 == 0 ? "connections" : "http", i + 1, Payload(i));
            for (int i = 0; i < 4; i++)
            {
                Assert.True(spool.TryPeek(out var e));
                Assert.Equal(Payload(i), e.Data);
                Assert.Equal(i + 1, e.Rows);
                spool.Acknowledge(e);
            }
            Assert.Equal(6, spool.Statistics.PendingBatches);
        }
        using (var reopened = new DiskSpool(_dir, 1 << 20))
        {
            Assert.Equal(6, reopened.Statistics.PendingBatches);
            Assert.Equal(Enumerable.Range(5, 6).Sum(), reopened.Statistics.PendingRows);
            reopened.Append("dns", 99, Payload(10));
            for (int i = 4; i <= 10; i++)
            {
                Assert.True(reopened.TryPeek(out var e));
                Assert.Equal(Payload(i), e.Data);
                Assert.Equal(i == 10 ? "dns" : i % 2 == 0 ? "connections" : "http", e.Table);
                reopened.Acknowledge(e);
            }
            Assert.False(reopened.TryPeek(out _));
            Assert.Equal(0, reopened.Statistics.DroppedBatches);
        }
    }

    [Fact]
    public void AFullSpoolDropsTheOldestBatchesAndCountsTheirRows()
    {
        const int count = 40;
        using var spool = new DiskSpool(_dir, 4096);        // ~1 KiB segments, records ~ 230 bytes
        long dropped = 0;
        for (int i = 0; i < count; i++) dropped += spool.Append("connections", i + 1, Payload(i, 200));
        var stats = spool.Statistics;
        Assert.True(stats.DroppedBatches > 0, "the spool should have overflowed");
        Assert.Equal(dropped, stats.DroppedBatches);
        Assert.True(stats.Bytes <= 4096 + 1200, $"spool holds {stats.Bytes} bytes");
        Assert.Equal(count, stats.DroppedBatches + stats.PendingBatches);

        // What is left is the newest data, in order, and the dropped rows are exactly the oldest ones.
        var left = new List<int>();
        while (spool.TryPeek(out var e)) { left.Add(e.Rows); spool.Acknowledge(e); }
        int firstKept = count - left.Count + 1;
        Assert.Equal(Enumerable.Range(firstKept, left.Count), left);
        Assert.Equal(Enumerable.Range(1, firstKept - 1).Sum(), stats.DroppedRows);
    }

    [Fact]
    public void ARecordCutShortByACrashIsIgnoredAndAppendingGoesOn()
    {
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            spool.Append("connections", 1, Payload(1));
            spool.Append("connections", 2, Payload(2));
        }
        var segment = Directory.GetFiles(_dir, "*.spool").Single();
        using (var f = new FileStream(segment, FileMode.Open)) f.SetLength(f.Length - 10);   // torn last record
        using var reopened = new DiskSpool(_dir, 1 << 20);
        reopened.Append("connections", 3, Payload(3));
        var rows = new List<int>();
        while (reopened.TryPeek(out var e)) { rows.Add(e.Rows); reopened.Acknowledge(e); }
        Assert.Equal([1, 3], rows);
    }

    /// <summary>
    /// A write that fails after part of the record reached the file (disk full, EIO): the append throws and
    /// counts the batch as dropped, and the records appended afterwards are read back, in order, once, also
    /// after a restart. <paramref name="truncateFails"/>: cutting the torn bytes off fails too, so the spool
    /// closes that segment and goes on in a new one.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AFailedWriteLosesOnlyItsOwnBatch_LaterBatchesAreShippedOnce(bool truncateFails)
    {
        var sequences = new List<long>();
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            spool.Append("connections", 1, Payload(1));
            spool.Append("connections", 2, Payload(2));
            var write = spool.WriteAndSync;
            var truncate = spool.Truncate;
            spool.WriteAndSync = (f, bytes) =>
            {
                f.Write(bytes.AsSpan(0, bytes.Length / 2));
                throw new IOException("No space left on device");
            };
            if (truncateFails) spool.Truncate = (_, _) => throw new IOException("Input/output error");
            var error = Assert.Throws<IOException>(() => spool.Append("connections", 3, Payload(3)));
            Assert.Equal("No space left on device", error.Message);
            spool.WriteAndSync = write;
            spool.Truncate = truncate;
            Assert.Equal((1L, 3L), (spool.Statistics.DroppedBatches, spool.Statistics.DroppedRows));
            spool.Append("connections", 4, Payload(4));
            spool.Append("connections", 5, Payload(5));
            var rows = new List<int>();
            for (int i = 0; i < 3 && spool.TryPeek(out var e); i++)
            {
                Assert.Equal(Payload(e.Rows), e.Data);
                rows.Add(e.Rows);
                sequences.Add(e.Sequence);
                spool.Acknowledge(e);
            }
            Assert.Equal([1, 2, 4], rows);
            Assert.Equal((1L, 5L), (spool.Statistics.PendingBatches, spool.Statistics.PendingRows));
        }
        using var reopened = new DiskSpool(_dir, 1 << 20);
        Assert.Equal((1L, 5L), (reopened.Statistics.PendingBatches, reopened.Statistics.PendingRows));
        reopened.Append("connections", 6, Payload(6));
        var after = new List<int>();
        while (reopened.TryPeek(out var e))
        {
            Assert.Equal(Payload(e.Rows), e.Data);
            after.Add(e.Rows);
            sequences.Add(e.Sequence);
            reopened.Acknowledge(e);
        }
        Assert.Equal([5, 6], after);
        // Never a number twice (the server would skip the second batch as already stored).
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Count, sequences.Distinct().Count());
    }

    /// <summary>
    /// A group (a payloads batch and the packets batches referring to it) lands in one segment, so a full
    /// spool drops it whole or keeps it whole: what is left never holds a group's later records without
    /// its first. Single records between groups fill segments up to the boundary a group then does not cross.
    /// </summary>
    [Fact]
    public void AGroupSharesOneSegmentSoAFullSpoolDropsItWholeOrNotAtAll()
    {
        const int groups = 30;
        using var spool = new DiskSpool(_dir, 4096);        // ~1 KiB segments
        for (int g = 0; g < groups; g++)
        {
            spool.Append("http", 1000 + g, Payload(g, 150));
            // Rows encode group and position: 10*g + 1 (payloads), 10*g + 2, 10*g + 3 (packets).
            spool.AppendGroup([("payloads", 10 * g + 1, Payload(g, 120)), ("packets", 10 * g + 2, Payload(g, 90)), ("packets", 10 * g + 3, Payload(g, 90))]);
        }
        var stats = spool.Statistics;
        Assert.True(stats.DroppedBatches > 0, "the spool should have overflowed");
        Assert.Equal(groups * 4, stats.DroppedBatches + stats.PendingBatches);

        var left = new List<SpoolEntry>();
        while (spool.TryPeek(out var e)) { left.Add(e); spool.Acknowledge(e); }
        var byGroup = left.Where(e => e.Table != "http").GroupBy(e => e.Rows / 10).ToList();
        Assert.NotEmpty(byGroup);
        foreach (var group in byGroup)
        {
            Assert.Equal([1, 2, 3], group.Select(e => e.Rows % 10));
            Assert.Equal(["payloads", "packets", "packets"], group.Select(e => e.Table));
            Assert.Single(group.Select(e => e.Segment).Distinct());
        }
    }

    [Fact]
    public void SequenceNumbersIncreaseAcrossRestarts_EvenWhenEverythingWasAcknowledgedAndDeleted()
    {
        string agentId;
        var seen = new List<long>();
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            agentId = spool.AgentId;
            Assert.Matches("^[0-9a-f]{32}$", agentId);
            spool.Append("dns", 1, Payload(0));
            spool.AppendGroup([("payloads", 1, Payload(1)), ("packets", 2, Payload(2))]);
            while (spool.TryPeek(out var e)) { seen.Add(e.Sequence); spool.Acknowledge(e); }
        }
        // Every record acknowledged: the restarted spool deletes the segments, and the ack file alone remembers the numbers used.
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            Assert.Equal(agentId, spool.AgentId);
            Assert.False(spool.TryPeek(out _));
            Assert.Empty(Directory.GetFiles(_dir, "*.spool"));
        }
        using (var spool = new DiskSpool(_dir, 1 << 20)) spool.Append("dns", 1, Payload(3));
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            spool.Append("dns", 1, Payload(4));   // numbered after the unacknowledged one still in a segment
            while (spool.TryPeek(out var e)) { seen.Add(e.Sequence); spool.Acknowledge(e); }
        }
        Assert.Equal([1, 2, 3, 4, 5], seen);
        // Another spool directory is another agent.
        var other = Directory.CreateTempSubdirectory("ts-spool-other-").FullName;
        try
        {
            using var spool = new DiskSpool(other, 1 << 20);
            Assert.NotEqual(agentId, spool.AgentId);
        }
        finally { Directory.Delete(other, recursive: true); }
    }

    [Fact]
    public void WhenTheNumberingStartsAgain_TheSpoolTakesANewAgentId()
    {
        string agentId;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            agentId = spool.AgentId;
            Assert.Null(spool.NewIdentity);
            spool.Append("dns", 1, Payload(0));
            spool.Append("dns", 1, Payload(1));
            while (spool.TryPeek(out var e)) spool.Acknowledge(e);
        }
        // A reset: segments and ack file deleted, agent-id kept. The next batch is number 1 again, so not under the old id.
        foreach (var f in Directory.EnumerateFiles(_dir).Where(f => Path.GetFileName(f) != "agent-id")) File.Delete(f);
        string renewed;
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            renewed = spool.AgentId;
            Assert.NotEqual(agentId, renewed);
            Assert.Matches("^[0-9a-f]{32}$", renewed);
            Assert.Contains(agentId, spool.NewIdentity);
            spool.Append("dns", 1, Payload(2));
            Assert.True(spool.TryPeek(out var e));
            Assert.Equal(1, e.Sequence);
        }
        // Kept from then on: the segment shows where the numbering is.
        using (var spool = new DiskSpool(_dir, 1 << 20))
        {
            Assert.Equal(renewed, spool.AgentId);
            Assert.Null(spool.NewIdentity);
            while (spool.TryPeek(out var e)) spool.Acknowledge(e);
        }
        // Once everything is acknowledged the numbered file shows it (an unreadable ack changes nothing); lost too, the
        // numbering is unknown: new id.
        using (var spool = new DiskSpool(_dir, 1 << 20)) Assert.Equal(renewed, spool.AgentId);
        File.WriteAllText(Path.Combine(_dir, "ack"), "garbage");
        using (var spool = new DiskSpool(_dir, 1 << 20)) Assert.Equal(renewed, spool.AgentId);
        File.Delete(Path.Combine(_dir, "numbered"));
        using (var spool = new DiskSpool(_dir, 1 << 20)) Assert.NotEqual(renewed, spool.AgentId);
    }

    [Fact]
    public void ARecordOfAnOlderAgent_WithoutSequence_IsStillRead()
    {
        // "TSB1" | body length | rows | table length | table | data: what agents before sequence numbers wrote.
        byte[] table = "dns"u8.ToArray(), data = Payload(5, 40);
        var record = new byte[14 + table.Length + data.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, 0x31425354);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), (uint)(6 + table.Length + data.Length));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), 7);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(12), (ushort)table.Length);
        table.CopyTo(record, 14);
        data.CopyTo(record, 14 + table.Length);
        File.WriteAllBytes(Path.Combine(_dir, "00000000000000000001.spool"), record);
        File.WriteAllText(Path.Combine(_dir, "ack"), "1 0\n");
        using var spool = new DiskSpool(_dir, 1 << 20);
        spool.Append("http", 2, Payload(6));
        Assert.True(spool.TryPeek(out var old));
        Assert.Equal(("dns", 7, 0L), (old.Table, old.Rows, old.Sequence));
        Assert.Equal(data, old.Data);
        spool.Acknowledge(old);
        Assert.True(spool.TryPeek(out var next));
        Assert.Equal(("http", 1L), (next.Table, next.Sequence));
    }
}
