using System.Text.Json.Nodes;
using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Query;

/// <summary>
/// <c>query --format json</c> and <c>inspect --format json</c> write values the same way (times as
/// integer nanoseconds, binary as base64), so a stored row reads back exactly as inspect printed it.
/// </summary>
public class JsonConventionTests
{
    [Fact]
    public void StoredDnsRowsReadBackAsInspectPrintedThem()
    {
        const string capture = "dns-mixed-types-nxdomain.pcap";
        var stdout = new StringWriter();
        Assert.Equal(0, CliApp.Run(["inspect", SharedData.Pcap(capture), "--table", "dns", "--format", "json"], stdout, new StringWriter()));
        var inspected = Lines(stdout.ToString());
        Assert.NotEmpty(inspected);

        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(capture)).Exit);
        var (exit, output, error) = store.Run("query", "dns", "--format", "json");
        Assert.True(exit == 0, error);
        var queried = Lines(output);
        Assert.Equal(inspected.Count, queried.Count);

        var shared = inspected[0].Select(kv => kv.Key).Where(k => queried[0].ContainsKey(k) && k != "connection_id").ToList();
        Assert.Contains("query_ts", shared);
        Assert.Contains("dns_time", shared);
        static string Key(JsonObject row) => $"{row["query_frame"]}|{row["response_frame"]}";
        var byKey = queried.ToDictionary(Key);
        foreach (var row in inspected)
        {
            var stored = byKey[Key(row)];
            Assert.IsType<long>(stored["query_ts"]!.GetValue<long>());
            foreach (var column in shared)
                Assert.True(JsonNode.DeepEquals(row[column], stored[column]), $"{column}: inspect {row[column]?.ToJsonString()} vs query {stored[column]?.ToJsonString()}");
        }
    }

    private static List<JsonObject> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
}
