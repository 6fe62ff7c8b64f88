using System.IO.Compression;
using System.Text;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Tests.Protocols.Http;

public class ContentDecoderTests
{
    private static readonly byte[] Plain = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 200).Select(i => $"line {i}\n")));

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void ParsesCodingListsAndDropsIdentityAndChunked()
    {
        Assert.Equal(new[] { "gzip", "br" }, ContentDecoder.ParseCodings(" GZIP , identity,br "));
        Assert.Equal(new[] { "gzip" }, ContentDecoder.ParseCodings("gzip, chunked"));
        Assert.Empty(ContentDecoder.ParseCodings(null));
    }

    [Fact]
    public void NoCodingsMeansNotEncoded()
    {
        var r = ContentDecoder.Decode(Plain, Array.Empty<string>(), null);
        Assert.Equal(ContentDecodeStatus.NotEncoded, r.Status);
        Assert.Null(r.AnomalyName);
    }

    [Fact]
    public void ConcatenatedGzipMembersDecodeToTheirConcatenation()
    {
        var body = Gzip(Plain[..100]).Concat(Gzip(Plain[100..])).ToArray();
        var r = ContentDecoder.Decode(body, new[] { "x-gzip" }, null);
        Assert.Equal(ContentDecodeStatus.Decoded, r.Status);
        Assert.Equal(Plain, r.Decoded);
    }

    [Fact]
    public void TruncatedOrGarbageInputFailsWithoutThrowing()
    {
        var r = ContentDecoder.Decode(Encoding.ASCII.GetBytes("definitely not brotli or gzip"), new[] { "gzip" }, null);
        Assert.Equal(ContentDecodeStatus.Failed, r.Status);
        Assert.Equal("content_decode_failed", r.AnomalyName);
        var br = ContentDecoder.Decode(new byte[] { 0xff, 0xff, 0xff, 0xff }, new[] { "br" }, null);
        Assert.Equal(ContentDecodeStatus.Failed, br.Status);
    }

    [Fact]
    public void CapKeepsAPrefixAndCountsTheWholeLength()
    {
        var r = ContentDecoder.Decode(Gzip(Plain), new[] { "gzip" }, 10);
        Assert.Equal(ContentDecodeStatus.DecodedOutputCapped, r.Status);
        Assert.Equal(Plain[..10], r.Decoded);
        Assert.Equal(Plain.Length, r.DecodedLength);
    }

    [Fact]
    public void RandomAndCorruptedInputNeverThrows()
    {
        var random = new Random(7);
        var good = Gzip(Plain);
        foreach (var coding in new[] { "gzip", "deflate", "br" })
        {
            for (int i = 0; i < 200; i++)
            {
                var data = new byte[random.Next(0, 64)];
                random.NextBytes(data);
                var r = ContentDecoder.Decode(data, new[] { coding }, 1 << 16);
                Assert.NotEqual(ContentDecodeStatus.NotEncoded, r.Status);
                var corrupt = (byte[])good.Clone();
                corrupt[random.Next(10, corrupt.Length)] ^= (byte)random.Next(1, 256);
                ContentDecoder.Decode(corrupt[..random.Next(1, corrupt.Length)], new[] { coding }, 1 << 16);
            }
        }
    }
}
