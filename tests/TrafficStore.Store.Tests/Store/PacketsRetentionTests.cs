using TrafficStore.Engine.Retention;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// Raw frames belong to their connection's namespace: a per-namespace retention policy deletes a
/// namespace's frames together with its connections and payloads, and leaves every other frame whole.
/// </summary>
public class PacketsRetentionTests
{
    [Fact]
    public async Task NamespacePolicyDeletesThatNamespacesFramesAndKeepsTheRestWhole()
    {
        using var dir = new TempDir();
        var capture = Path.Combine(dir.Path, "synthetic.pcap");
        var snapshot = Path.Combine(dir.Path, "cluster.json");
        var options = new TrafficGeneratorOptions { TargetBytes = 400_000, Duration = TimeSpan.FromMinutes(5), Seed = 11 };
        TrafficGenerator.GenerateToFile(capture, options);
        new TrafficGenerator(options).WriteKubernetesSnapshot(snapshot);
        await using var db = OpenDatabase(Path.Combine(dir.Path, "store"));
        await new CaptureIngestor(db, new CaptureIngestOptions { Identities = KubernetesSnapshot.Load(snapshot) }).IngestFileAsync(capture);
        var client = new LocalTrafficClient(db);

        // Every frame of a connection carries that connection's owner_namespace.
        var owners = (await QueryRows(client, "connections select connection_id, owner_namespace"))
            .ToDictionary(r => r["connection_id"], r => r["owner_namespace"]);
        var frames = await QueryRows(client, "packets select connection_id, owner_namespace, orig_len, data");
        Assert.Contains(frames, f => f["owner_namespace"] == "payments");
        foreach (var f in frames)
            Assert.Equal(f["connection_id"] == "" ? "" : owners[f["connection_id"]], f["owner_namespace"]);

        // The capture's times lie in the past: one day of age deletes all of payments.
        await db.Engine.SetRetentionPolicyAsync(new RetentionPolicy
        {
            Namespaces = new Dictionary<string, RetentionLimits> { ["payments"] = new(MaxAge: TimeSpan.FromDays(1)) },
        });
        var report = await db.Engine.ApplyRetentionAsync();
        Assert.Contains(report.Actions, a => a.Table == "packets" && a.Namespace == "payments" && a.RowsDeleted > 0);

        var after = await client.QueryAsync("packets select connection_id, owner_namespace, data");
        var left = new List<Dictionary<string, string>>();
        await foreach (var b in after.Batches) left.AddRange(TextRows(b));
        Assert.Empty(after.Warnings); // no frame lost bytes it had handed to a deleted payloads row
        Assert.DoesNotContain(left, f => f["owner_namespace"] == "payments");
        Assert.Equal(frames.Count(f => f["owner_namespace"] != "payments"), left.Count);
        var before = frames.Where(f => f["owner_namespace"] != "payments").Select(f => f["data"]).Order().ToList();
        Assert.Equal(before, left.Select(f => f["data"]).Order().ToList());
        Assert.Empty(await QueryRows(client, "payloads where owner_namespace=payments"));
    }

    private static async Task<List<Dictionary<string, string>>> QueryRows(LocalTrafficClient client, string text)
    {
        var result = await client.QueryAsync(text);
        var rows = new List<Dictionary<string, string>>();
        await foreach (var b in result.Batches) rows.AddRange(TextRows(b));
        return rows;
    }
}
