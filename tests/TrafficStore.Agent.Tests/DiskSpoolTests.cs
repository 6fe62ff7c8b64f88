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
}
