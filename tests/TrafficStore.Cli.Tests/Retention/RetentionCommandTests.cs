using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Retention;

public class RetentionCommandTests
{
    /// <summary>A 2009 capture and a capture of the last hour: max-age 1d deletes exactly the old one's rows.</summary>
    [Fact]
    public void MaxAgeDeletesOnlyDataOlderThanTheLimit()
    {
        using var store = new CliStore();
        Directory.CreateDirectory(store.Dir);
        var recent = Path.Combine(store.Dir, "recent.pcap");
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        TrafficGenerator.GenerateToFile(recent, new TrafficGeneratorOptions { TargetBytes = 200_000, StartTime = start, Duration = TimeSpan.FromMinutes(5), IncludeFeatureTour = false, Seed = 3 });
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap("http11-chunked-gzip-multi-conn.pcap"), recent).Exit);
        var before = HttpCount(store);

        var (exit, output, error) = store.Run("retention", "set", "--max-age", "1d");
        Assert.True(exit == 0, error);
        (exit, output, _) = store.Run("retention", "list");
        Assert.Contains("global\t1d\tnone", output);
        (exit, output, error) = store.Run("retention", "apply");
        Assert.True(exit == 0, error);
        Assert.Contains("deleted http segment", output);

        var (_, times, _) = store.Run("query", "http select ts", "--format", "csv");
        var remaining = times.TrimEnd('\n').Split('\n').Skip(1).ToList();
        Assert.Equal(before - 10, remaining.Count); // the 2009 capture had 10 exchanges (oracle)
        Assert.Equal(10, OracleFile.Section("http11-chunked-gzip-multi-conn.pcap", "http").Rows.Count);
        Assert.All(remaining, t => Assert.True(double.Parse(t, System.Globalization.CultureInfo.InvariantCulture) >= start.ToUnixTimeSeconds() - 1));

        (exit, output, _) = store.Run("retention", "set", "--namespace", "shop", "--max-bytes", "10M");
        Assert.Equal(0, exit);
        (_, output, _) = store.Run("retention", "list");
        Assert.Contains("namespace shop\tnone\t10485760", output);
        // stats counts what is left (retention counters are per process: the apply ran in another invocation).
        (_, output, _) = store.Run("stats");
        Assert.Contains($"\nhttp\t{remaining.Count}\t", output);
    }

    /// <summary>
    /// `list` printed ages as TimeSpan text ("7.00:00:00") that `set` did not take back; an age past TimeSpan's range
    /// ("1e9d") was an OverflowException.
    /// </summary>
    [Fact]
    public void AgesAreListedAsSetAndOverlongAgesAreRefused()
    {
        using var store = new CliStore();
        foreach (var (given, listed) in new[] { ("7d", "7d"), ("36h", "36h"), ("90m", "90m"), ("2w", "14d"), ("1.5s", "1.5s") })
        {
            var (exit, _, error) = store.Run("retention", "set", "--max-age", given);
            Assert.True(exit == 0, error);
            var (_, output, _) = store.Run("retention", "list");
            Assert.Contains($"global\t{listed}\tnone", output);
        }
        var (code, _, message) = store.Run("retention", "set", "--max-age", "1e9d");
        Assert.Equal(CliApp.ExitUsage, code);
        Assert.Contains("longer than", message);
        Assert.DoesNotContain("Overflow", message);
        (code, _, message) = store.Run("retention", "set", "--max-bytes", "1e30T");
        Assert.Equal(CliApp.ExitUsage, code);
        Assert.Contains("--max-bytes '1e30T' is not a size", message);
    }

    private static int HttpCount(CliStore store)
    {
        var (_, output, _) = store.Run("query", "http select ts", "--format", "csv");
        return output.TrimEnd('\n').Split('\n').Length - 1;
    }
}
