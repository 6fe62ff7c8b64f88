using System.Diagnostics;

namespace TrafficStore.Benchmarks;

/// <summary>
/// Builds a large benchmark capture from the shared corpus: every readable corpus capture,
/// repeated with timestamps shifted by an hour per round (editcap -t), concatenated with
/// mergecap -a. The result is pcapng (the corpus mixes link types), kept outside the repository.
/// </summary>
public static class CorpusCaptureBuilder
{
    public static string Build(string sharedDir, string outputPath, long targetBytes, TextWriter log)
    {
        if (File.Exists(outputPath) && TrafficStore.Benchmarks.Store.Sizes.RealFile(outputPath).Length >= targetBytes)
        {
            log.WriteLine($"using existing {outputPath} ({TrafficStore.Benchmarks.Store.Sizes.RealFile(outputPath).Length / 1e6:F0} MB)");
            return outputPath;
        }
        var pcapDir = Path.Combine(sharedDir, "pcaps");
        // corrupt-* files stop readers by design; they are not throughput input.
        var inputs = Directory.EnumerateFiles(pcapDir)
            .Where(p => (p.EndsWith(".pcap") || p.EndsWith(".pcapng")) && !Path.GetFileName(p).StartsWith("corrupt-") && !Path.GetFileName(p).StartsWith("empty-"))
            .Order(StringComparer.Ordinal)
            .ToList();
        long roundBytes = inputs.Sum(p => new FileInfo(p).Length);
        int rounds = (int)Math.Ceiling(targetBytes / (double)roundBytes);
        var work = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outputPath))!, "corpus-rounds");
        Directory.CreateDirectory(work);
        log.WriteLine($"building {outputPath}: {inputs.Count} captures x {rounds} rounds (~{roundBytes * rounds / 1e6:F0} MB)");

        // One round = all corpus captures concatenated; later rounds are that file shifted in time.
        var round0 = Path.Combine(work, "round0.pcapng");
        Run("mergecap", new[] { "-a", "-F", "pcapng", "-w", round0 }.Concat(inputs));
        var parts = new List<string> { round0 };
        for (int r = 1; r < rounds; r++)
        {
            var shifted = Path.Combine(work, $"round{r}.pcapng");
            Run("editcap", new[] { "-t", (r * 3600).ToString(), round0, shifted });
            parts.Add(shifted);
        }
        Run("mergecap", new[] { "-a", "-F", "pcapng", "-w", outputPath }.Concat(parts));
        Directory.Delete(work, recursive: true);
        log.WriteLine($"built {outputPath} ({new FileInfo(outputPath).Length / 1e6:F0} MB)");
        return outputPath;
    }

    private static void Run(string tool, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {err}");
    }
}
