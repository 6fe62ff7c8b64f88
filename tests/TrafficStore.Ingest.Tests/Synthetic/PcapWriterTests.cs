using System.Buffers.Binary;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.Synthetic;

public class PcapWriterTests
{
    private static readonly byte[] FrameA = Enumerable.Range(0, 60).Select(i => (byte)i).ToArray();
    private static readonly byte[] FrameB = Enumerable.Range(0, 300).Select(i => (byte)(255 - i % 256)).ToArray();

    [Fact]
    public void WritesTheClassicHeaderAndRecordsByteForByte()
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, leaveOpen: true))
        {
            writer.WriteFrame(1_700_000_000_123_456_789, FrameA, FrameA.Length);
            writer.WriteFrame(1_700_000_001_000_000_001, FrameB, 1514);
        }
        byte[] file = stream.ToArray();
        // draft-ietf-opsawg-pcap section 4: magic, 2.4, reserved, snaplen, link type.
        Assert.Equal(new byte[] { 0x4D, 0x3C, 0xB2, 0xA1 }, file[..4]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(4)));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(6)));
        Assert.Equal(262144u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(16)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));

        ReadOnlySpan<byte> r1 = file.AsSpan(24);
        Assert.Equal(1_700_000_000u, BinaryPrimitives.ReadUInt32LittleEndian(r1));
        Assert.Equal(123_456_789u, BinaryPrimitives.ReadUInt32LittleEndian(r1[4..]));
        Assert.Equal(60u, BinaryPrimitives.ReadUInt32LittleEndian(r1[8..]));
        Assert.Equal(60u, BinaryPrimitives.ReadUInt32LittleEndian(r1[12..]));
        Assert.True(r1.Slice(16, 60).SequenceEqual(FrameA));

        ReadOnlySpan<byte> r2 = r1[(16 + 60)..];
        Assert.Equal(1_700_000_001u, BinaryPrimitives.ReadUInt32LittleEndian(r2));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(r2[4..]));
        Assert.Equal(300u, BinaryPrimitives.ReadUInt32LittleEndian(r2[8..]));
        Assert.Equal(1514u, BinaryPrimitives.ReadUInt32LittleEndian(r2[12..]));
        Assert.True(r2.Slice(16, 300).SequenceEqual(FrameB));
        Assert.Equal(24 + 16 + 60 + 16 + 300, file.Length);
    }

    [Fact]
    public void MicrosecondFilesUseTheOldMagicAndTruncateToMicroseconds()
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkType.Raw, nanosecond: false, leaveOpen: true))
            writer.WriteFrame(1_700_000_000_123_456_789, FrameA, FrameA.Length);
        byte[] file = stream.ToArray();
        Assert.Equal(0xA1B2C3D4u, BinaryPrimitives.ReadUInt32LittleEndian(file));
        Assert.Equal(101u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(20)));
        Assert.Equal(123_456u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(28)));
    }

    [Fact]
    public void FramesLongerThanTheSnapLengthAreCutButKeepTheirOriginalLength()
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, snaplen: 96, leaveOpen: true))
            writer.WriteFrame(1_000_000_000, FrameB, FrameB.Length);
        byte[] file = stream.ToArray();
        Assert.Equal(96u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(24 + 8)));
        Assert.Equal(300u, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(24 + 12)));
        Assert.Equal(24 + 16 + 96, file.Length);
    }

    [Fact]
    public void RejectsAnOriginalLengthShorterThanTheData()
    {
        using var writer = new PcapWriter(new MemoryStream(), LinkType.Ethernet);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame(0, FrameB, 10));
    }

    [Fact]
    public void RejectsTimestampsThePcapFormatCannotHold()
    {
        using var writer = new PcapWriter(new MemoryStream(), LinkType.Ethernet);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame(-1, FrameA, FrameA.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame((uint.MaxValue + 1L) * 1_000_000_000, FrameA, FrameA.Length));
        writer.WriteFrame(uint.MaxValue * 1_000_000_000L, FrameA, FrameA.Length);
    }

    [Fact]
    public void WritingAFrameDoesNotAllocate()
    {
        using var writer = new PcapWriter(Stream.Null, LinkType.Ethernet, bufferSize: 1 << 16);
        for (int i = 0; i < 1000; i++) writer.WriteFrame(i, FrameB, FrameB.Length); // warm up, incl. buffer flushes
        Assert.Equal(0, Allocations.LeastOf(3, () =>
        {
            for (int i = 0; i < 10_000; i++) writer.WriteFrame(i, FrameB, FrameB.Length);
        }));
    }

    [TsharkFact]
    public void TsharkReadsTheFileBack()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pcapwriter-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var writer = new PcapWriter(File.Create(path), LinkType.Ethernet))
            {
                writer.WriteFrame(1_700_000_000_123_456_789, FrameA, FrameA.Length);
                writer.WriteFrame(1_700_000_001_000_000_001, FrameB, 1514);
            }
            string[] lines = Tshark.Lines(Tshark.Fields(path, "", "frame.time_epoch", "frame.len", "frame.cap_len"));
            Assert.Equal(new[] { "1700000000.123456789\t60\t60", "1700000001.000000001\t1514\t300" }, lines);
        }
        finally { File.Delete(path); }
    }
}
