using Apache.Arrow;
using System.Text;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Tests;

/// <summary>Property-style round trips of every encoding with fixed seeds.</summary>
public class CodecTests
{
    private static byte[]? RandomValidity(Random rng, int n, out int nulls)
    {
        nulls = 0;
        if (rng.Next(3) == 0) return null;
        var v = new byte[(n + 7) / 8];
        for (int i = 0; i < n; i++)
        {
            if (rng.Next(5) == 0) nulls++;
            else v[i >> 3] |= (byte)(1 << (i & 7));
        }
        return v;
    }

    private static ColumnVector RoundTrip(ColumnVector v, out ChunkEncoding encoding)
    {
        var sink = new ByteSink();
        encoding = ColumnCodec.Encode(v, sink);
        return ColumnCodec.Decode(v.Type, encoding, v.Length, v.NullCount, sink.WrittenSpan);
    }

    private static void AssertEqual(ColumnVector a, ColumnVector b)
    {
        Assert.Equal(a.Length, b.Length);
        Assert.Equal(a.NullCount, b.NullCount);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(a.IsNull(i), b.IsNull(i));
            if (a.IsNull(i)) continue;
            if (a.Type == ColumnType.Double) Assert.Equal(BitConverter.DoubleToInt64Bits(a.Doubles[i]), BitConverter.DoubleToInt64Bits(b.Doubles[i]));
            else if (ColumnTypes.IsBytes(a.Type)) Assert.True(a.GetBytes(i).SequenceEqual(b.GetBytes(i)));
            else Assert.Equal(a.Longs[i], b.Longs[i]);
        }
    }

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)]
    public void IntegersRoundTripInEveryShape(int seed)
    {
        var rng = new Random(seed);
        for (int trial = 0; trial < 40; trial++)
        {
            int n = rng.Next(0, 3000);
            var values = new long[n];
            long t = rng.NextInt64();
            int shape = trial % 4;
            for (int i = 0; i < n; i++)
            {
                values[i] = shape switch
                {
                    0 => t += rng.Next(0, 1000),                                   // timestamps: small positive steps
                    1 => rng.NextInt64(long.MinValue, long.MaxValue),               // random: overflowing differences
                    2 => i % 7 == 0 ? long.MinValue : long.MaxValue,               // extremes
                    _ => 1000 + i,                                                 // sequence numbers
                };
            }
            var validity = RandomValidity(rng, n, out int nulls);
            if (validity is not null) for (int i = 0; i < n; i++) if ((validity[i >> 3] & (1 << (i & 7))) == 0) values[i] = 0;
            var v = ColumnVector.OfLongs(ColumnType.TimestampNs, values, validity, validity is null ? 0 : nulls);
            AssertEqual(v, RoundTrip(v, out _));
        }
    }

    [Fact]
    public void RegularTimestampsUseDeltaOfDeltaAndShrink()
    {
        var values = Enumerable.Range(0, 10000).Select(i => TestData.Base + i * 1_000_000L).ToArray();
        var v = ColumnVector.OfLongs(ColumnType.TimestampNs, values, null, 0);
        var sink = new ByteSink();
        Assert.Equal(ChunkEncoding.DeltaOfDelta, ColumnCodec.Encode(v, sink));
        Assert.True(sink.Length < values.Length * 2, $"{sink.Length} bytes for {values.Length} timestamps");
        var seq = ColumnVector.OfLongs(ColumnType.Int64, Enumerable.Range(0, 1000).Select(i => (long)i * i).ToArray(), null, 0);
        Assert.Equal(ChunkEncoding.DeltaOfDelta, ColumnCodec.Encode(seq, new ByteSink()));
        var random = ColumnVector.OfLongs(ColumnType.Int64, Enumerable.Range(0, 1000).Select(i => new Random(i).NextInt64()).ToArray(), null, 0);
        Assert.Equal(ChunkEncoding.Plain, ColumnCodec.Encode(random, new ByteSink()));
    }

    [Theory]
    [InlineData(11)] [InlineData(12)] [InlineData(13)]
    public void BytesRoundTripAsDictionaryAndPlain(int seed)
    {
        var rng = new Random(seed);
        var pods = Enumerable.Range(0, 5).Select(i => $"pod-{i}-{rng.Next()}").ToArray();
        foreach (bool lowCardinality in new[] { true, false })
        {
            int n = rng.Next(4, 2000);
            var validity = RandomValidity(rng, n, out int nulls);
            var offsets = new int[n + 1];
            var data = new List<byte>();
            for (int i = 0; i < n; i++)
            {
                offsets[i] = data.Count;
                bool isNull = validity is not null && (validity[i >> 3] & (1 << (i & 7))) == 0;
                if (isNull) continue;
                var s = lowCardinality ? pods[rng.Next(pods.Length)] : (rng.Next(10) == 0 ? "" : Guid.NewGuid().ToString() + new string('é', rng.Next(3)));
                data.AddRange(Encoding.UTF8.GetBytes(s));
            }
            offsets[n] = data.Count;
            var v = ColumnVector.OfBytes(ColumnType.Utf8, offsets, data.ToArray(), validity, validity is null ? 0 : nulls);
            var back = RoundTrip(v, out var encoding);
            Assert.Equal(lowCardinality ? ChunkEncoding.Dictionary : ChunkEncoding.Plain, encoding);
            AssertEqual(v, back);
        }
    }

    [Theory]
    [InlineData(21)] [InlineData(22)]
    public void PlainBytesKeepTheRawBufferTheyWereGiven(int seed)
    {
        // A decoded plain byte chunk keeps the decompressed buffer as its values (offsets start past the lengths):
        // reading, slicing, Arrow conversion, concatenation and re-encoding must not notice.
        var rng = new Random(seed);
        int n = rng.Next(50, 500);
        var validity = RandomValidity(rng, n, out int nulls);
        var offsets = new int[n + 1];
        var data = new List<byte>();
        for (int i = 0; i < n; i++)
        {
            offsets[i] = data.Count;
            if (validity is not null && (validity[i >> 3] & (1 << (i & 7))) == 0) continue;
            var body = new byte[rng.Next(0, 3000)];
            rng.NextBytes(body);
            data.AddRange(body);
        }
        offsets[n] = data.Count;
        var v = ColumnVector.OfBytes(ColumnType.Binary, offsets, data.ToArray(), validity, validity is null ? 0 : nulls);
        var sink = new ByteSink();
        Assert.Equal(ChunkEncoding.Plain, ColumnCodec.Encode(v, sink));
        Assert.True(ColumnCodec.KeepsRaw(ColumnType.Binary, ChunkEncoding.Plain));
        var raw = sink.WrittenSpan.ToArray();

        var kept = ColumnCodec.Decode(v.Type, ChunkEncoding.Plain, n, v.NullCount, raw, raw);
        var copied = ColumnCodec.Decode(v.Type, ChunkEncoding.Plain, n, v.NullCount, raw);
        Assert.Same(raw, kept.Bytes);
        Assert.NotSame(raw, copied.Bytes);
        Assert.True(kept.Offsets[0] > 0);
        Assert.Equal(0, copied.Offsets[0]);
        AssertEqual(v, kept);
        Assert.Equal(copied.RawBytes, kept.RawBytes);

        // Arrow: all rows (a slice of the kept buffer), a run, and scattered rows.
        var all = (BinaryArray)kept.ToArrow();
        var scattered = Enumerable.Range(0, n).Where(i => i % 3 == 1).ToArray();
        var some = (BinaryArray)kept.ToArrow(scattered);
        var run = (BinaryArray)kept.ToArrow([5, 6, 7, 8], 4);
        for (int i = 0; i < n; i++) Assert.True(all.GetBytes(i).SequenceEqual(v.GetBytes(i)) && all.IsNull(i) == v.IsNull(i));
        for (int i = 0; i < scattered.Length; i++) Assert.True(some.GetBytes(i).SequenceEqual(v.GetBytes(scattered[i])));
        for (int i = 0; i < 4; i++) Assert.True(run.GetBytes(i).SequenceEqual(v.GetBytes(5 + i)));

        AssertEqual(v.Select(scattered, scattered.Length), kept.Select(scattered, scattered.Length));
        AssertEqual(ColumnVector.Concat(v.Type, [v, v]), ColumnVector.Concat(v.Type, [kept, copied]));
        AssertEqual(v.Slice(3, n - 10), kept.Slice(3, n - 10));
        var again = new ByteSink();
        ColumnCodec.Encode(kept, again);
        Assert.True(again.WrittenSpan.SequenceEqual(raw)); // a retention rewrite writes the same chunk

        // A chunk whose lengths claim more bytes than it holds is still refused.
        Assert.Throws<InvalidDataException>(() => ColumnCodec.Decode(v.Type, ChunkEncoding.Plain, n, v.NullCount, raw[..^1], raw[..^1]));
    }

    [Fact]
    public void LongValuesAreNotDictionaryEncodedEvenWhenTheyRepeat()
    {
        // Frames and bodies: hashing them costs as much as compressing them, and zstd stores repeats anyway.
        int n = 400, width = ColumnCodec.MaxDictionaryAverageBytes + 1;
        var distinct = Enumerable.Range(0, 3).Select(k => Enumerable.Repeat((byte)('a' + k), width).ToArray()).ToArray();
        var offsets = new int[n + 1];
        var data = new List<byte>();
        for (int i = 0; i < n; i++) { offsets[i] = data.Count; data.AddRange(distinct[i % 3]); }
        offsets[n] = data.Count;
        var v = ColumnVector.OfBytes(ColumnType.Binary, offsets, data.ToArray(), null, 0);
        var back = RoundTrip(v, out var encoding);
        Assert.Equal(ChunkEncoding.Plain, encoding);
        AssertEqual(v, back);
    }

    [Fact]
    public void ShortValuesDistinctInTheFirstRowsAreNotDictionaryEncoded()
    {
        // The first DictionarySampleRows rows are all distinct: the full pass is not tried even though later rows repeat.
        int n = 1000;
        var values = Enumerable.Range(0, n).Select(i => i < ColumnCodec.DictionarySampleRows ? $"v{i}" : "same").ToArray();
        var offsets = new int[n + 1];
        var data = new List<byte>();
        for (int i = 0; i < n; i++) { offsets[i] = data.Count; data.AddRange(Encoding.UTF8.GetBytes(values[i])); }
        offsets[n] = data.Count;
        var v = ColumnVector.OfBytes(ColumnType.Utf8, offsets, data.ToArray(), null, 0);
        var back = RoundTrip(v, out var encoding);
        Assert.Equal(ChunkEncoding.Plain, encoding);
        AssertEqual(v, back);
    }

    [Fact]
    public void BinaryArrowArraysConvertWithNullsAndSlices()
    {
        var builder = new Apache.Arrow.BinaryArray.Builder();
        var expected = new List<byte[]?>();
        var rng = new Random(7);
        for (int i = 0; i < 300; i++)
        {
            if (rng.Next(4) == 0) { builder.AppendNull(); expected.Add(null); continue; }
            var b = new byte[rng.Next(0, 200)];
            rng.NextBytes(b);
            builder.Append(b.AsSpan());
            expected.Add(b);
        }
        var array = builder.Build();
        foreach (var (start, length) in new[] { (0, 300), (17, 200), (299, 1) })
        {
            var slice = (Apache.Arrow.BinaryArray)array.Slice(start, length);
            var v = ColumnVector.FromArrow(slice, ColumnType.Binary);
            Assert.Equal(length, v.Length);
            for (int i = 0; i < length; i++)
            {
                var e = expected[start + i];
                Assert.Equal(e is null, v.IsNull(i));
                Assert.True((e ?? []).AsSpan().SequenceEqual(v.GetBytes(i)));
            }
        }
    }

    [Fact]
    public void DoublesAndBoolsRoundTrip()
    {
        var rng = new Random(21);
        var doubles = Enumerable.Range(0, 777).Select(i => i % 50 == 0 ? double.NaN : i % 51 == 0 ? double.NegativeInfinity : rng.NextDouble() * 1e6 - 5e5).ToArray();
        var everyFourthNull = new byte[(doubles.Length + 7) / 8];
        for (int i = 0; i < doubles.Length; i++) if (i % 4 != 0) everyFourthNull[i >> 3] |= (byte)(1 << (i & 7));
        int nulls = (doubles.Length + 3) / 4;
        foreach (var validity in new[] { null, everyFourthNull })
        {
            var dv = ColumnVector.OfDoubles(doubles, validity, validity is null ? 0 : nulls);
            AssertEqual(dv, RoundTrip(dv, out _));
        }
        var bools = Enumerable.Range(0, 1001).Select(_ => (long)rng.Next(2)).ToArray();
        var bv = ColumnVector.OfLongs(ColumnType.Bool, bools, null, 0);
        AssertEqual(bv, RoundTrip(bv, out var enc));
        Assert.Equal(ChunkEncoding.BitPacked, enc);
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue()
    {
        // RFC 3720 appendix B.4 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        var data = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog, twice over.");
        Assert.Equal(Crc32C.Compute(data), Crc32C.Append(Crc32C.Compute(data.AsSpan(0, 13)), data.AsSpan(13)));
    }
}
