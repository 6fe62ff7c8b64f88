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

    /// <summary>
    /// A killed export leaves its temp file: the next export to the same name removes it when no process holds it
    /// locked (the writer's lock dies with it) and it is not brand new, and leaves everything else: a running export's
    /// temp file (however old), a new one, other outputs' and names that are not an export's temp file.
    /// </summary>
    [Fact]
    public async Task TempFilesOfKilledExportsAreRemoved_NeverOneARunningExportWrites()
    {
        var dir = Directory.CreateTempSubdirectory("ts-arrow-").FullName;
        try
        {
            var path = Path.Combine(dir, "http.arrow");
            var longAgo = DateTime.UtcNow.AddHours(-3);
            string Temp(string output) => Path.Combine(dir, $".{output}.{Guid.NewGuid():N}.tmp");
            string Make(string file, DateTime? modified = null)
            {
                File.WriteAllBytes(file, [1, 2, 3]);
                File.SetLastWriteTimeUtc(file, modified ?? longAgo);
                return file;
            }
            // A running export to the same path, stopped after its first batch with its temp file open.
            var firstBatchWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            async IAsyncEnumerable<RecordBatch> Held()
            {
                yield return Batch(0, 100);
                firstBatchWritten.SetResult();
                await release.Task;
                yield return Batch(100, 100);
            }
            var running = Task.Run(() => ArrowFileExport.Write(new TrafficQueryResult(Schema, Held()), path));
            await firstBatchWritten.Task;
            var runningTemp = Assert.Single(Directory.GetFiles(dir));
            Assert.Matches(@"^\.http\.arrow\.[0-9a-f]{32}\.tmp$", Path.GetFileName(runningTemp));
            File.SetLastWriteTimeUtc(runningTemp, longAgo); // old as it may be: a writer waiting long for its next batch

            var killed = new[] { Make(Temp("http.arrow")), Make(Temp("http.arrow")) };
            var fresh = Make(Temp("http.arrow"), DateTime.UtcNow);
            var otherOutput = Make(Temp("dns.arrow"));
            var notATemp = new[] { Make(Path.Combine(dir, ".http.arrow.notaguid.tmp")), Make(Path.Combine(dir, "x.http.arrow." + Guid.NewGuid().ToString("N") + ".tmp")) };

            var removed = new List<string>();
            Assert.Equal(100, ArrowFileExport.Write(new TrafficQueryResult(Schema, Batches(1, null)), path, removed.Add));
            Assert.Equal(killed.Order(), removed.Order());
            Assert.All(killed, f => Assert.False(File.Exists(f)));
            Assert.All([fresh, otherOutput, runningTemp, .. notATemp], f => Assert.True(File.Exists(f), f));

            // The running export was not disturbed: it finishes and its rename replaces the file.
            release.SetResult();
            Assert.Equal(200, await running);
            Assert.Equal(200, RowsIn(path));
            Assert.False(File.Exists(runningTemp));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
