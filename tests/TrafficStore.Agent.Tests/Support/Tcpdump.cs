using System.Diagnostics;

namespace TrafficStore.Agent.Tests.Support;

/// <summary>
/// tcpdump writing a capture file, as an independent reference for what libpcap delivered. Immediate
/// mode: without it libpcap hands over packets a ring block at a time (up to tcpdump's 1 s timeout),
/// and what is still in the ring at SIGINT never reaches the file.
/// </summary>
public sealed class Tcpdump : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Tcpdump(Process process) => _process = process;

    /// <summary>Starts tcpdump and returns once it reports it is listening (packets from then on are in the file).</summary>
    public static async Task<Tcpdump> StartAsync(string interfaceName, string filter, string path)
    {
        var info = new ProcessStartInfo("tcpdump") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-i", interfaceName, "--immediate-mode", "-U", "-n", "-s", "262144", "-Z", "root", "-w", path, filter }) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("tcpdump did not start");
        var tcpdump = new Tcpdump(process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true) tcpdump._listening.TrySetResult();
        };
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(tcpdump._listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));   // a deadline: a loaded machine starts it slowly
        if (first != tcpdump._listening.Task)
        {
            tcpdump.Dispose();
            throw new InvalidOperationException($"tcpdump is not listening (exited: {process.HasExited})");
        }
        return tcpdump;
    }

    /// <summary>Ends the capture with SIGINT, as at a terminal, so the file is complete.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString()])) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
