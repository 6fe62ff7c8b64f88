using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Synthetic;

namespace TrafficStore.Cli.Tests.Query;

/// <summary>--k8s-snapshot on inspect and ingest fills the identity columns; the namespace field then matches either end.</summary>
public class SnapshotCommandTests
{
    [Fact]
    public void InspectAndIngestWithASnapshotFillPodsAndNamespaces()
    {
        using var store = new CliStore();
        Directory.CreateDirectory(store.Dir);
        var capture = Path.Combine(store.Dir, "gen.pcap");
        var snapshot = Path.Combine(store.Dir, "cluster.json");
        var options = new TrafficGeneratorOptions { TargetBytes = 150_000, Seed = 5 };
        TrafficGenerator.GenerateToFile(capture, options);
        new TrafficGenerator(options).WriteKubernetesSnapshot(snapshot);

        var stdout = new StringWriter();
        Assert.Equal(0, CliApp.Run(["inspect", capture, "--format", "csv", "--k8s-snapshot", snapshot], stdout, new StringWriter()));
        var inspected = Csv(stdout.ToString());
        Assert.NotEmpty(inspected);
        Assert.All(inspected, r => Assert.NotEqual("", r["client_pod"]));
        int shop = inspected.Count(r => r["client_namespace"] == "shop" || r["server_namespace"] == "shop");
        Assert.True(shop > 0);

        Assert.Equal(0, store.Run("ingest", capture, "--k8s-snapshot", snapshot).Exit);
        var (exit, output, error) = store.Run("query", "connections where namespace=shop and transport=tcp select client_pod, server_namespace", "--format", "csv");
        Assert.True(exit == 0, error);
        Assert.Equal(shop, output.TrimEnd('\n').Split('\n').Length - 1);
    }

    // Label columns hold commas (quoted): read the CSV properly.
    private static List<Dictionary<string, string>> Csv(string text) => TrafficStore.Ingest.Tests.Oracle.Csv.ReadTable(text);
}
