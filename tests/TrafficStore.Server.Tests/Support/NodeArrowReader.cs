using System.Diagnostics;
using System.Text.Json.Nodes;

namespace TrafficStore.Server.Tests.Support;

/// <summary>
/// Reads an Arrow IPC file with the npm <c>apache-arrow</c> package under node, an implementation
/// that shares no code with the .NET Arrow library. Installs the package (<c>npm ci</c>, pinned by
/// package-lock.json) beside the test assembly on first use.
/// </summary>
public static class NodeArrowReader
{
    private static readonly SemaphoreSlim Install = new(1, 1);

    private static string Folder => Path.Combine(AppContext.BaseDirectory, "Interop");

    public static async Task<(List<string> Fields, List<List<string?>> Rows)> ReadAsync(string arrowFile)
    {
        await EnsureInstalledAsync();
        var (code, stdout, stderr) = await RunAsync("node", [Path.Combine(Folder, "read-arrow.mjs"), arrowFile]);
        Assert.True(code == 0, $"node read-arrow.mjs failed ({code}): {stderr}");
        var root = JsonNode.Parse(stdout)!;
        var fields = root["fields"]!.AsArray().Select(f => (string)f!["name"]!).ToList();
        var rows = root["rows"]!.AsArray().Select(r => r!.AsArray().Select(v => (string?)v).ToList()).ToList();
        return (fields, rows);
    }

    private static async Task EnsureInstalledAsync()
    {
        await Install.WaitAsync();
        try
        {
            if (Directory.Exists(Path.Combine(Folder, "node_modules", "apache-arrow"))) return;
            // The registry is reached over the network: retry a transient failure before giving up.
            int code = -1;
            string stderr = "";
            for (int attempt = 1; attempt <= 3 && code != 0; attempt++)
            {
                if (attempt > 1) await Task.Delay(TimeSpan.FromSeconds(2 * attempt));
                (code, _, stderr) = await RunAsync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", Folder]);
            }
            Assert.True(code == 0, $"npm ci failed ({code}): {stderr}");
        }
        finally { Install.Release(); }
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Folder };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
