namespace TrafficStore.Ingest.Tests.Oracle;

/// <summary>
/// Finds the shared capture corpus (../shared beside the repository root, or $TRAFFICSTORE_SHARED).
/// The captures are never copied into the project.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string SharedRoot => Root.Value;
    public static string PcapDir => Path.Combine(SharedRoot, "pcaps");
    public static string OracleDir => Path.Combine(SharedRoot, "oracle");

    public static string Pcap(string name) => Path.Combine(PcapDir, name);
    public static string Oracle(string pcapName) => Path.Combine(OracleDir, pcapName + ".csv");

    /// <summary>Every capture in the corpus (*.pcap, *.pcapng), sorted by name.</summary>
    public static IEnumerable<string> CaptureNames() =>
        Directory.EnumerateFiles(PcapDir)
            .Where(p => p.EndsWith(".pcap", StringComparison.Ordinal) || p.EndsWith(".pcapng", StringComparison.Ordinal))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)!;

    /// <summary>xunit MemberData source: one row per corpus capture.</summary>
    public static TheoryData<string> Captures()
    {
        var data = new TheoryData<string>();
        foreach (var name in CaptureNames()) data.Add(name);
        return data;
    }

    private static string FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("TRAFFICSTORE_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln")))
            {
                var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                if (Directory.Exists(shared)) return shared;
                throw new DirectoryNotFoundException($"The shared corpus is expected at {shared} (beside the repository), or set TRAFFICSTORE_SHARED.");
            }
        }
        throw new DirectoryNotFoundException("Repository root (TrafficStore.sln) not found above " + AppContext.BaseDirectory);
    }
}
