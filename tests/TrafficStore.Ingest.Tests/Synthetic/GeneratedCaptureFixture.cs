using TrafficStore.Ingest.Synthetic;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Synthetic;

/// <summary>
/// One small generated capture (60 s of capture time, the full feature tour plus 40 random
/// conversations), its Kubernetes snapshot, and tshark-oracle's view of it; shared by the tests
/// of a class so tshark runs once.
/// </summary>
public sealed class GeneratedCaptureFixture : IDisposable
{
    public static readonly TrafficGeneratorOptions Options = new()
    {
        Seed = 7,
        Duration = TimeSpan.FromSeconds(60),
        ConnectionCount = 40,
        Mix = new TrafficMix(Downloads: 3),
        Ipv6Fraction = 0.2,
    };

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"trafficstore-synthetic-{Guid.NewGuid():N}");
    private readonly Lazy<IReadOnlyDictionary<string, OracleSection>> _oracle;

    public GeneratedCaptureFixture()
    {
        Directory.CreateDirectory(_directory);
        PcapPath = Path.Combine(_directory, "generated.pcap");
        SnapshotPath = Path.Combine(_directory, "cluster.json");
        Summary = TrafficGenerator.GenerateToFile(PcapPath, Options);
        new TrafficGenerator(Options).WriteKubernetesSnapshot(SnapshotPath);
        _oracle = new Lazy<IReadOnlyDictionary<string, OracleSection>>(RunOracle);
    }

    public string PcapPath { get; }
    public string SnapshotPath { get; }
    public GenerationSummary Summary { get; }

    public long StartNs => Options.StartTime.ToUnixTimeMilliseconds() * 1_000_000;
    public long EndNs => StartNs + Options.Duration.Ticks * 100;

    /// <summary>tshark-oracle.sh --all on the capture (gRPC port decoded as HTTP/2).</summary>
    public IReadOnlyDictionary<string, OracleSection> Oracle => _oracle.Value;

    private IReadOnlyDictionary<string, OracleSection> RunOracle()
    {
        string script = Path.Combine(SharedData.SharedRoot, "tools", "tshark-oracle.sh");
        string csv = Tshark.Run("bash", script, "--all", "-d", "tcp.port==50051,http2", PcapPath);
        string csvPath = Path.Combine(_directory, "oracle.csv");
        File.WriteAllText(csvPath, csv);
        return OracleFile.Read(csvPath);
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { /* a leftover temp directory is harmless; the test result stands */ }
    }
}
