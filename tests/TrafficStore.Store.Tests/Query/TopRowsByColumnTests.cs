using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Store.Query;

namespace TrafficStore.Store.Tests.Query;

/// <summary>
/// Top-N ordering on a non-time column, checked against LINQ's stable OrderBy over the same rows
/// (nulls last, ties in arrival order), across many batches so the kept rows get compacted.
/// </summary>
public class TopRowsByColumnTests
{
    private static readonly Schema Schema = new Schema.Builder()
        .Field(f => f.Name("seq").DataType(Int64Type.Default))
        .Field(f => f.Name("n").DataType(Int64Type.Default))
        .Field(f => f.Name("x").DataType(DoubleType.Default))
        .Field(f => f.Name("s").DataType(StringType.Default))
        .Field(f => f.Name("t").DataType(new TimestampType(TimeUnit.Nanosecond, "UTC")))
        .Field(f => f.Name("b").DataType(BinaryType.Default))
        .Build();

    private sealed record Row(long Seq, long? N, double? X, string? S, long? T, byte[] B);

    private static List<Row> MakeRows(int count, int seed)
    {
        var rng = new Random(seed);
        string[] words = ["alpha", "beta", "Zeta", "ärger", "beta", "", "über", "a"];
        return Enumerable.Range(0, count).Select(i => new Row(
            i,
            rng.Next(10) == 0 ? null : rng.Next(50), // many ties
            rng.Next(12) == 0 ? null : rng.Next(8) == 0 ? double.NaN : Math.Round(rng.NextDouble() * 100, 1),
            rng.Next(9) == 0 ? null : words[rng.Next(words.Length)] + rng.Next(3),
            rng.Next(15) == 0 ? null : 1_700_000_000_000_000_000L + rng.Next(1000),
            [(byte)i, (byte)(i >> 8)])).ToList();
    }

    private static async IAsyncEnumerable<RecordBatch> Batches(List<Row> rows, int batchRows)
    {
        for (int start = 0; start < rows.Count; start += batchRows)
        {
            var part = rows.Skip(start).Take(batchRows).ToList();
            var seq = new Int64Array.Builder();
            var n = new Int64Array.Builder();
            var x = new DoubleArray.Builder();
            var s = new StringArray.Builder();
            var t = new Int64Array.Builder();
            var b = new BinaryArray.Builder();
            foreach (var r in part)
            {
                seq.Append(r.Seq);
                if (r.N is long nv) n.Append(nv); else n.AppendNull();
                if (r.X is double xv) x.Append(xv); else x.AppendNull();
                if (r.S is { } sv) s.Append(sv); else s.AppendNull();
                if (r.T is long tv) t.Append(tv); else t.AppendNull();
                b.Append(r.B.AsSpan());
            }
            var tData = t.Build().Data;
            var ts = new TimestampArray(new ArrayData(Schema.GetFieldByName("t").DataType, tData.Length, tData.NullCount, 0, tData.Buffers));
            yield return new RecordBatch(Schema, [seq.Build(), n.Build(), x.Build(), s.Build(), ts, b.Build()], part.Count);
            await Task.Yield();
        }
    }

    private static async Task<List<long>> Top(List<Row> rows, string column, bool desc, int limit, int batchRows)
    {
        var seqs = new List<long>();
        await foreach (var batch in TopRowsByColumn.ApplyAsync(Batches(rows, batchRows), column, desc, limit))
        {
            Assert.Equal(Schema.FieldsList.Select(f => f.Name), batch.Schema.FieldsList.Select(f => f.Name));
            var seq = (Int64Array)batch.Column("seq");
            var bin = (BinaryArray)batch.Column("b");
            for (int i = 0; i < batch.Length; i++)
            {
                long v = seq.GetValue(i)!.Value;
                // Every column of a kept row travels with it (checked on the bytes column).
                Assert.Equal(rows[(int)v].B, bin.GetBytes(i).ToArray());
                seqs.Add(v);
            }
        }
        return seqs;
    }

    private static List<long> Expected<TKey>(List<Row> rows, Func<Row, TKey?> key, IComparer<TKey> order, bool desc, int limit) where TKey : struct =>
        rows.Where(r => key(r) is not null).OrderBy(r => key(r)!.Value, desc ? Comparer<TKey>.Create((a, b) => order.Compare(b, a)) : order)
            .Concat(rows.Where(r => key(r) is null))
            .Take(limit).Select(r => r.Seq).ToList();

    private static readonly Comparer<double> NaNLast = Comparer<double>.Create((a, b) =>
        double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a.CompareTo(b));

    [Theory]
    [InlineData(false, 25, 7)]
    [InlineData(true, 25, 7)]
    [InlineData(false, 300, 13)]
    [InlineData(true, 1, 50)]
    [InlineData(true, 5000, 64)] // more rows asked than there are
    public async Task IntegersDoublesAndTimestampsMatchAStableSort(bool desc, int limit, int batchRows)
    {
        var rows = MakeRows(2000, seed: limit + batchRows);
        Assert.Equal(Expected(rows, r => r.N, Comparer<long>.Default, desc, limit), await Top(rows, "n", desc, limit, batchRows));
        Assert.Equal(Expected(rows, r => r.X, NaNLast, desc, limit), await Top(rows, "x", desc, limit, batchRows));
        Assert.Equal(Expected(rows, r => r.T, Comparer<long>.Default, desc, limit), await Top(rows, "t", desc, limit, batchRows));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StringsOrderByCodePoint(bool desc)
    {
        var rows = MakeRows(1500, seed: 3);
        var nonNull = rows.Where(r => r.S is not null).OrderBy(r => r.S!, desc ? Comparer<string>.Create((a, b) => string.CompareOrdinal(b, a)) : StringComparer.Ordinal);
        var expected = nonNull.Concat(rows.Where(r => r.S is null)).Take(40).Select(r => r.Seq).ToList();
        Assert.Equal(expected, await Top(rows, "s", desc, 40, batchRows: 11));
    }

    [Fact]
    public async Task AnEmptySourceGivesNoRows()
    {
        Assert.Empty(await Top([], "n", desc: false, limit: 10, batchRows: 10));
    }
}
