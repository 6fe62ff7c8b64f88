using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>Corrupted files (random bytes flipped in valid ones) never throw and never hang.</summary>
public class CaptureFuzzTests
{
    public static TheoryData<string> Files() => new() { "pcap", "pcapng" };

    private static byte[] Build(string kind)
    {
        byte[] a = [.. Enumerable.Range(0, 70).Select(i => (byte)i)];
        byte[] b = [.. Enumerable.Range(0, 33).Select(i => (byte)(255 - i))];
        return kind == "pcap"
            ? CaptureBytes.Pcap(false, true, 65535, 1).PcapRecord(1, 2, a).PcapRecord(3, 4, b).PcapRecord(5, 6, a).ToArray()
            : CaptureBytes.PcapNg().Section(false).Interface(1, tsresol: 9).Interface(113).Enhanced(0, 1, a).Simple(b, 40)
                .Section(true).Interface(101, tsresol: 0x80 | 20).Enhanced(0, 5, b).ObsoletePacket(0, 7, a).ToArray();
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Random_corruption_never_throws(string kind)
    {
        var original = Build(kind);
        var random = new Random(kind.Length * 7919);
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            var file = original.ToArray();
            int flips = 1 + random.Next(4);
            for (int i = 0; i < flips; i++) file[random.Next(file.Length)] = (byte)random.Next(256);
            if (random.Next(4) == 0) file = file[..random.Next(file.Length)];
            var (frames, end, error) = CaptureBytes.ReadAll(file);
            Assert.True(frames.Count <= file.Length / 12); // every frame needs at least a 12-byte header
            if (end == CaptureReadStatus.Error)
            {
                Assert.NotNull(error);
                Assert.InRange(error.ByteOffset, 0, file.Length);
                Assert.False(string.IsNullOrEmpty(error.Kind));
            }
            for (int i = 0; i < frames.Count; i++) Assert.Equal(i + 1, frames[i].Number);
        }
    }
}
