using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Store.Tests.Store;

/// <summary>The engine's messages reach the database's log: a damaged segment is never silent.</summary>
public class StoreLogTests
{
    [Fact]
    public async Task ACorruptSegmentFoundByAQueryIsLoggedAsAnError()
    {
        using var dir = new TempDir();
        var messages = new List<(StoreLogLevel Level, string Text)>();
        var options = new TrafficDatabaseOptions
        {
            Engine = o => o with { FlushInterval = null, RetentionInterval = null },
            Log = (level, text) => { lock (messages) messages.Add((level, text)); },
        };
        await using (var db = TrafficDatabase.Open(dir.Path, options))
        {
            await new CaptureIngestor(db).IngestFileAsync(StoreTestSupport.Pcap("http11-get-simple.pcap"));
            await db.Engine.FlushAsync();
        }
        var segment = Directory.EnumerateFiles(Path.Combine(dir.Path, "segments", "packets"), "*.seg", SearchOption.AllDirectories).First();
        using (var f = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 11; // inside the first chunk: footers stay readable, the chunk checksum fails
            int b = f.ReadByte();
            f.Position = 11;
            f.WriteByte((byte)(b ^ 0x5A));
        }

        await using (var db = TrafficDatabase.Open(dir.Path, options))
        {
            var diagnostics = new QueryDiagnostics();
            await foreach (var _ in db.Engine.QueryAsync(new QuerySpec("packets"), diagnostics)) { }
            Assert.NotEmpty(diagnostics.Warnings);
        }
        Assert.Contains(messages, m => m.Level == StoreLogLevel.Error && m.Text.Contains("Quarantined") && m.Text.Contains("packets"));
    }

    [Fact]
    public void ByDefaultWarningsAndErrorsGoToStandardError()
    {
        var previous = Console.Error;
        var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            var log = TrafficDatabaseOptions.Default.Log!;
            log(StoreLogLevel.Information, "routine");
            log(StoreLogLevel.Error, "flush failed");
        }
        finally { Console.SetError(previous); }
        // Other tests of this assembly may write to stderr meanwhile: look for ours only.
        Assert.Contains("trafficstore: store error: flush failed" + Environment.NewLine, captured.ToString());
        Assert.DoesNotContain("routine", captured.ToString());
    }
}
