using System.Diagnostics;
using System.Globalization;
using TrafficStore.Store.Query;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>A generated capture (with its long-lived scrape connection) and its Kubernetes snapshot, ingested once for all tests of this class.</summary>
public sealed class SyntheticStoreFixture : IAsyncLifetime
{
    public static readonly TrafficGeneratorOptions Options = new() { TargetBytes = 600_000, Duration = TimeSpan.FromMinutes(10), Seed = 7 };

    private readonly TempDir _dir = new();
    public string CapturePath => Path.Combine(_dir.Path, "synthetic.pcap");
    public string SnapshotPath => Path.Combine(_dir.Path, "cluster.json");
    public TrafficDatabase Db { get; private set; } = null!;
    public IngestSummary Summary { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TrafficGenerator.GenerateToFile(CapturePath, Options);
        new TrafficGenerator(Options).WriteKubernetesSnapshot(SnapshotPath);
        Db = OpenDatabase(Path.Combine(_dir.Path, "store"));
        Summary = await new CaptureIngestor(Db, new CaptureIngestOptions { Identities = KubernetesSnapshot.Load(SnapshotPath), IdentitySource = SnapshotPath })
            .IngestFileAsync(CapturePath);
    }

    public async Task DisposeAsync()
    {
        await Db.DisposeAsync();
        _dir.Dispose();
    }
}

public class SyntheticStoreTests(SyntheticStoreFixture fixture) : IClassFixture<SyntheticStoreFixture>
{
    private readonly LocalTrafficClient _client = new(fixture.Db);

    private async Task<List<Dictionary<string, string>>> Query(string text)
    {
        var result = await _client.QueryAsync(text);
        var rows = new List<Dictionary<string, string>>();
        await foreach (var b in result.Batches) rows.AddRange(TextRows(b));
        return rows;
    }

    [Fact]
    public async Task SnapshotFillsIdentitiesAndNamespaceMatchesEitherEnd()
    {
        var all = await Query("connections");
        Assert.NotEmpty(all);
        // The capture point is the client pod: every TCP client is a pod of the cluster.
        var tcp = all.Where(r => r["transport"] == "tcp").ToList();
        Assert.All(tcp, r => Assert.NotEqual("", r["client_pod"]));
        var shop = await Query("connections where namespace=shop");
        var expected = all.Where(r => r["client_namespace"] == "shop" || r["server_namespace"] == "shop").Select(r => r["connection_id"]).Order().ToList();
        Assert.NotEmpty(expected);
        Assert.Contains(all, r => r["client_namespace"] != "shop" && r["server_namespace"] == "shop");
        Assert.Equal(expected, shop.Select(r => r["connection_id"]).Order().ToList());
        var notShop = await Query("connections where namespace!=shop");
        Assert.Equal(all.Count - expected.Count, notShop.Count);

        // L7 rows carry their connection's identities.
        var byId = all.ToDictionary(r => r["connection_id"]);
        var dns = await Query("dns where namespace=kube-system");
        Assert.NotEmpty(dns);
        foreach (var row in dns)
            foreach (var c in new[] { "client_pod", "server_pod", "client_namespace", "server_namespace" })
                Assert.Equal(byId[row["connection_id"]][c], row[c]);
        var http = await Query("http where namespace=payments");
        Assert.NotEmpty(http);
        Assert.All(http, r => Assert.True(r["client_namespace"] == "payments" || r["server_namespace"] == "payments"));
    }

    [Fact]
    public async Task NewestFirstIsTheAscendingOrderReversed()
    {
        var ascending = (await Query("http select ts, exchange_id")).Select(r => r["exchange_id"]).ToList();
        var descending = (await Query("http order by ts desc select ts, exchange_id")).Select(r => r["exchange_id"]).ToList();
        Assert.True(ascending.Count > 10);
        Assert.Equal(Enumerable.Reverse(ascending), descending);
        var latest = await Query("http where namespace=shop order by ts desc limit 5 select ts");
        var all = (await Query("http where namespace=shop select ts")).Select(r => r["ts"]).ToList();
        Assert.Equal(Enumerable.Reverse(all).Take(5), latest.Select(r => r["ts"]));
    }

    /// <summary>
    /// The scrape connection lasting the whole capture: `connection_timeline as of T` gives its counters at the
    /// end of the second holding T, which must equal tshark's count of its frames up to then; and
    /// `connections as of T` lists it (it is open at T).
    /// </summary>
    [Fact]
    public async Task AsOfOnTheLongLivedConnectionGivesCountersAtThatInstant()
    {
        var conns = await Query("connections where transport=tcp");
        var longest = conns.MaxBy(r => double.Parse(r["last_ts"], CultureInfo.InvariantCulture) - double.Parse(r["first_ts"], CultureInfo.InvariantCulture))!;
        long first = QueryTime.ParseEpochSeconds(longest["first_ts"]), last = QueryTime.ParseEpochSeconds(longest["last_ts"]);
        Assert.True(last - first > 5 * 60 * 1_000_000_000L, "the generator's scrape connection spans most of the capture");
        long id = long.Parse(longest["connection_id"], CultureInfo.InvariantCulture);
        long stream = StoreIds.LocalOf(id);

        foreach (double fraction in new[] { 0.25, 0.5, 0.9 })
        {
            long t = first + (long)((last - first) * fraction);
            string at = Column(t);
            var timeline = await Query($"connection_timeline where connection={id} as of {at}");
            var row = Assert.Single(timeline);
            long secondEnd = (t / 1_000_000_000L + 1) * 1_000_000_000L;
            var (c2s, s2c) = TsharkPackets(fixture.CapturePath, stream, longest["client_ip"], longest["client_port"], secondEnd);
            Assert.Equal(c2s.ToString(CultureInfo.InvariantCulture), row["pkts_c2s"]);
            Assert.Equal(s2c.ToString(CultureInfo.InvariantCulture), row["pkts_s2c"]);

            // connections as of T: open at T, with its counters as of T (not its final totals).
            var open = Assert.Single(await Query($"connections where connection={id} as of {at} select pkts_c2s, pkts_s2c, health"));
            Assert.Equal(row["pkts_c2s"], open["pkts_c2s"]);
            Assert.Equal(row["pkts_s2c"], open["pkts_s2c"]);
            Assert.NotEqual(longest["pkts_c2s"], open["pkts_c2s"]);
            Assert.Equal(longest["health"], open["health"]);
        }
        // Before it started it is not open.
        Assert.Empty(await Query($"connections where connection={id} as of {Column(first - 1_000_000_000L)}"));
    }

    [Fact]
    public async Task ExportByPodAndByWindowSelectTheRightFrames()
    {
        var frames = PcapExportTests.ReadFrames(fixture.CapturePath);
        using var dir = new TempDir();

        // By pod: the frames of every connection with the pod at either end.
        var conns = await Query("connections");
        var pod = conns.GroupBy(r => r["server_pod"]).Where(g => g.Key != "").OrderByDescending(g => g.Count()).First().Key;
        var podConns = conns.Where(r => r["client_pod"] == pod || r["server_pod"] == pod).ToList();
        long expectedFrames = podConns.Sum(r => long.Parse(r["pkts_c2s"], CultureInfo.InvariantCulture) + long.Parse(r["pkts_s2c"], CultureInfo.InvariantCulture));
        var podFile = Path.Combine(dir.Path, "pod.pcap");
        await using (var output = File.Create(podFile))
            await _client.ExportPcapAsync(new PcapExportRequest { Pod = pod }, output);
        Assert.Equal(expectedFrames, PcapExportTests.ReadFrames(podFile).Count);

        // By window: every frame whose time is in [from, to), in capture order.
        long from = frames[frames.Count / 3].TimestampNs, to = frames[frames.Count / 2].TimestampNs;
        var windowFile = Path.Combine(dir.Path, "window.pcap");
        await using (var output = File.Create(windowFile))
            await _client.ExportPcapAsync(new PcapExportRequest { FromNs = from, ToNs = to }, output);
        PcapExportTests.AssertSameFrames(frames.Where(f => f.TimestampNs >= from && f.TimestampNs < to).ToList(), PcapExportTests.ReadFrames(windowFile), "window");
    }

    private static string Column(long ns) => TrafficStore.Ingest.Tables.Column<int>.FormatSeconds(ns);

    private static (long C2S, long S2C) TsharkPackets(string capture, long stream, string clientIp, string clientPort, long beforeNs)
    {
        var psi = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-r", capture, "-Y", $"tcp.stream=={stream} && frame.time_epoch < {Column(beforeNs)}", "-T", "fields", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport" })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        long c2s = 0, s2c = 0;
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            bool fromClient = (f[0] == clientIp || f[1] == clientIp) && f[2] == clientPort;
            if (fromClient) c2s++; else s2c++;
        }
        return (c2s, s2c);
    }
}
