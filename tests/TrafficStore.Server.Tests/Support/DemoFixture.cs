using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Server.Tests.Support;

/// <summary>
/// A server holding the generator's demo capture (with its Kubernetes snapshot, so rows carry
/// namespaces), plus the same capture as a file and tshark's view of its TCP packets, which is
/// where the expected values of the time-travel and export tests come from.
/// </summary>
public sealed class DemoFixture : IAsyncLifetime
{
    public static readonly TrafficGeneratorOptions Options = TrafficGeneratorOptions.Demo with
    {
        StartTime = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero),
        CertificateDer = TrafficGenerator.CreateServerCertificate(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero)),
    };

    public TestServer Server { get; private set; } = null!;
    public string PcapPath { get; private set; } = null!;
    public long CaptureId { get; private set; }
    /// <summary>tshark: every TCP packet as (stream, time ns, source address, source port).</summary>
    public IReadOnlyList<TcpPacket> Packets { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync();
        PcapPath = Path.Combine(Server.Directory, "demo-input.pcap");
        TrafficGenerator.GenerateToFile(PcapPath, Options);
        var snapshot = Path.Combine(Server.Directory, "demo-cluster.json");
        new TrafficGenerator(Options).WriteKubernetesSnapshot(snapshot);
        var ingestor = new CaptureIngestor(Server.Database, new CaptureIngestOptions { Identities = KubernetesSnapshot.Load(snapshot), IdentitySource = snapshot });
        var summary = await ingestor.IngestFileAsync(PcapPath);
        Assert.True(summary.Complete, summary.Error?.ToString());
        CaptureId = summary.CaptureId;
        Packets = await TsharkTcpPacketsAsync(PcapPath);
    }

    public readonly record struct TcpPacket(long Stream, long TimeNs, string Source, long SourcePort);

    private static async Task<IReadOnlyList<TcpPacket>> TsharkTcpPacketsAsync(string pcap)
    {
        var psi = new ProcessStartInfo("tshark", ["-n", "-r", pcap, "-Y", "tcp", "-T", "fields", "-E", "separator=,",
            "-e", "tcp.stream", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["HOME"] = Path.GetTempPath(); // no user profile
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, await stderr);
        var list = new List<TcpPacket>();
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(',');
            list.Add(new TcpPacket(long.Parse(f[0], CultureInfo.InvariantCulture), EpochNs(f[1]), f[2].Length > 0 ? f[2] : f[3], long.Parse(f[4], CultureInfo.InvariantCulture)));
        }
        return list;
    }

    /// <summary>"1362692526.869344000" → ns, exactly (no floating point).</summary>
    public static long EpochNs(string text)
    {
        var parts = text.Split('.');
        long ns = long.Parse(parts[0], CultureInfo.InvariantCulture) * 1_000_000_000;
        if (parts.Length > 1) ns += long.Parse(parts[1].PadRight(9, '0')[..9], CultureInfo.InvariantCulture);
        return ns;
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
