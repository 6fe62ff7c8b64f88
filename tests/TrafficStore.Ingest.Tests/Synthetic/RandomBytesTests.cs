using TrafficStore.Ingest.Synthetic.Payloads;

namespace TrafficStore.Ingest.Tests.Synthetic;

/// <summary>
/// The generator's "ciphertext" must behave like ciphertext: no stretch of it repeats elsewhere, so a
/// long-window compressor (zstd -19 in the storage benchmark) cannot shrink it. It once came from a
/// shared 256 KiB pool, which made zstd -19 look 2x better on the synthetic capture than on real traffic.
/// </summary>
public class RandomBytesTests
{
    [Fact]
    public void NoThirtyTwoByteStretchRepeatsAcrossDraws()
    {
        var rng = new Random(42);
        var writer = new ByteWriter();
        for (int i = 0; i < 16; i++) writer.Random(rng, 64 * 1024 + i);
        var bytes = writer.ToArray();

        var seen = new HashSet<UInt128>();
        for (int at = 0; at + 32 <= bytes.Length; at++)
        {
            var window = bytes.AsSpan(at, 32);
            var key = System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(window) ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(window[16..]) * 31;
            Assert.True(seen.Add(key), $"32 bytes at {at} repeat an earlier stretch");
        }
    }

    [Fact]
    public void TheSameSeedDrawsTheSameBytes()
    {
        var a = new ByteWriter();
        var b = new ByteWriter();
        a.Random(new Random(7), 1000);
        b.Random(new Random(7), 1000);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.Contains(a.ToArray(), x => x != 0);
    }
}
