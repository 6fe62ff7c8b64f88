using System.Diagnostics;

namespace TrafficStore.Ingest.Tests.Synthetic;

/// <summary>Runs tshark (and the shared tshark-oracle.sh) for tests that check generated captures.</summary>
internal static class Tshark
{
    private static readonly Lazy<bool> Available = new(() =>
    {
        try { return Run("tshark", "--version").Contains("TShark", StringComparison.Ordinal); }
        catch (System.ComponentModel.Win32Exception) { return false; }
    });

    public static bool IsAvailable => Available.Value;

    /// <summary>tshark with the user's profile ignored, so results do not depend on local preferences.</summary>
    public static string Fields(string file, string filter, params string[] fields)
    {
        var args = new List<string> { "-n", "-r", file, "-d", "tcp.port==50051,http2", "-o", "tcp.analyze_sequence_numbers:TRUE" };
        if (filter.Length > 0) { args.Add("-Y"); args.Add(filter); }
        args.Add("-T"); args.Add("fields");
        foreach (string f in fields) { args.Add("-e"); args.Add(f); }
        return Run("tshark", args.ToArray());
    }

    public static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static string Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args) start.ArgumentList.Add(a);
        string config = Path.Combine(Path.GetTempPath(), "trafficstore-tshark-profile");
        Directory.CreateDirectory(config);
        start.Environment["WIRESHARK_CONFIG_DIR"] = config;
        using var process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}");
        return stdout;
    }
}

/// <summary>A fact that is skipped, saying why, when tshark is not installed.</summary>
public sealed class TsharkFactAttribute : FactAttribute
{
    public TsharkFactAttribute()
    {
        if (!Tshark.IsAvailable) Skip = "tshark is not installed (apt-get install tshark); the generated capture cannot be checked against it.";
    }
}
