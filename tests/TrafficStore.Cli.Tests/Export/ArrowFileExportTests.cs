using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using TrafficStore.Cli.Export;
using TrafficStore.Store.Client;

namespace TrafficStore.Cli.Tests.Export;

/// <summary>
/// `export arrow` writes all or nothing: a result stream that fails midway (as a server ending the stream with an error
/// does) leaves no partial file, no temp file, and a file already at the target as it was; a whole result replaces it.
/// </summary>
public class ArrowFileExportTests
{
    private static readonly Schema Schema = new Schema.Builder().Field(f => f.Name("n").DataType(Int64Type.Default).Nullable(false)).Build();

    private static RecordBatch Batch(long first, int rows) =>
        new(Schema, [new Int64Array.Builder().AppendRange(Enumerable.Range(0, rows).Select(i => first + i)).Build()], rows);

    private static async IAsyncEnumerable<RecordBatch> Batches(int count, Exception? failAfter)
    {
        for (int b = 0; b < count; b++)
        {
            await Task.Yield();
            yield return Batch(b * 100L, 100);
        }
        if (failAfter is not null) throw failAfter;
    }

    private static long RowsIn(string path)
    {
        using var reader = new ArrowFileReader(File.OpenRead(path));
        long rows = 0;
        while (reader.ReadNextRecordBatch() is { } b) rows += b.Length;
        return rows;
    }

    [Fact]
    public void AStreamFailingMidwayLeavesNoFileAndTheOldOneAsItWas()
    {
        var dir = Directory.CreateTempSubdirectory("ts-arrow-").FullName;
        try
        {
            var path = Path.Combine(dir, "http.arrow");
            var failure = new InvalidOperationException("the server ended the stream: Internal: segment read failed");

            var e = Assert.Throws<IOException>(() => ArrowFileExport.Write(new TrafficQueryResult(Schema, Batches(3, failure)), path));
            Assert.Equal("the result failed after 300 rows (the server ended the stream: Internal: segment read failed): no file was written", e.Message);
            Assert.Same(failure, e.InnerException);
            Assert.Empty(Directory.GetFileSystemEntries(dir)); // neither the target nor a temp file

            Assert.Equal(500, ArrowFileExport.Write(new TrafficQueryResult(Schema, Batches(5, null)), path));
            var whole = File.ReadAllBytes(path);
            e = Assert.Throws<IOException>(() => ArrowFileExport.Write(new TrafficQueryResult(Schema, Batches(2, failure)), path));
            Assert.EndsWith($"; {path} was left as it was", e.Message);
            Assert.Equal(whole, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(dir));
            Assert.Equal(500, RowsIn(path));

            Assert.Equal(200, ArrowFileExport.Write(new TrafficQueryResult(Schema, Batches(2, null)), path));
            Assert.Equal(200, RowsIn(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(dir));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
