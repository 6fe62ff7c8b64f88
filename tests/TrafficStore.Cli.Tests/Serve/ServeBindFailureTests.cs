using System.Net;
using System.Net.Sockets;
using TrafficStore.Cli.Serve;
using TrafficStore.Cli.Tests.Ingest;

namespace TrafficStore.Cli.Tests.Serve;

/// <summary>The server's console logger writes to the process console: tests that read it run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessConsoleCollection
{
    public const string Name = "process console";
}

/// <summary>
/// A port taken between serve's free-port check and the server's bind (by another process, in that
/// window): the bind failure is one line and a usage exit, not the host's logged stack trace, for the
/// Flight port and for the ops port (/healthz, /metrics) alike, and the port that did bind is released.
/// </summary>
[Collection(ProcessConsoleCollection.Name)]
public class ServeBindFailureTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task APortTakenAfterTheCheckIsOneLineAndAUsageExit(int takenOffset)
    {
        using var store = new CliStore();
        // Other test processes bind free ports too: one may take ours before serve's check (then the check, not the
        // bind, refuses it and the hook never runs). That attempt proves nothing; try other ports.
        for (int attempt = 1; ; attempt++)
        {
            int port = TwoFreePorts();
            int taken = port + takenOffset;
            var run = await ServeWithPortTakenAfterTheCheck(store, port, taken);
            if (!run.TakenAfterCheck && attempt < 5) continue;
            Assert.True(run.TakenAfterCheck, "serve's check found a port taken in every attempt: " + run.Stderr);

            Assert.Equal(CliApp.ExitUsage, run.Exit);
            string line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith($"trafficstore serve: cannot listen on 127.0.0.1:{taken}", line);
            Assert.Equal(takenOffset == 1, line.Contains("/healthz and /metrics", StringComparison.Ordinal));
            string everything = run.Stdout + run.Stderr + run.Console;
            Assert.DoesNotContain("   at ", everything);
            Assert.DoesNotContain("Exception", everything);
            Assert.DoesNotContain("Hosting failed", everything);
            Assert.DoesNotContain("Serving Arrow Flight", run.Stdout);

            // The port of the two that did bind was released with the failed server.
            if (takenOffset == 1)
            {
                var again = new TcpListener(IPAddress.Loopback, port);
                again.Start();
                again.Stop();
            }
            return;
        }
    }

    private sealed record ServeRun(int Exit, string Stdout, string Stderr, string Console, bool TakenAfterCheck);

    /// <summary>
    /// Runs serve on <paramref name="port"/>, taking <paramref name="taken"/> right after its free-port check, with the
    /// process console (where the server's logger writes) captured.
    /// </summary>
    private static async Task<ServeRun> ServeWithPortTakenAfterTheCheck(CliStore store, int port, int taken)
    {
        TcpListener? occupier = null;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var console = new StringWriter();
        var (consoleOut, consoleError) = (Console.Out, Console.Error);
        int exit;
        Console.SetOut(console);
        Console.SetError(console);
        try
        {
            exit = await ServeCommand.RunAsync(new ServeSettings
            {
                StoreDirectory = Path.Combine(store.Dir, "store"),
                Listen = $"127.0.0.1:{port}",
                JsonLogs = false,
                AfterPortProbe = () =>
                {
                    var listener = new TcpListener(IPAddress.Loopback, taken);
                    try { listener.Start(); occupier = listener; }
                    catch (SocketException) { } // someone else's since the check: not this test's doing, retried
                },
            }, stdout, stderr, CancellationToken.None);
        }
        finally
        {
            Console.SetOut(consoleOut);
            Console.SetError(consoleError);
            occupier?.Stop();
        }
        return new ServeRun(exit, stdout.ToString(), stderr.ToString(), console.ToString(), occupier is not null);
    }

    /// <summary>A port P with P and P+1 free now (the server's check runs right after and must find them so).</summary>
    private static int TwoFreePorts()
    {
        for (int attempt = 0; ; attempt++)
        {
            var first = new TcpListener(IPAddress.Loopback, 0);
            first.Start();
            int port = ((IPEndPoint)first.LocalEndpoint).Port;
            try
            {
                if (port >= IPEndPoint.MaxPort) continue;
                var second = new TcpListener(IPAddress.Loopback, port + 1);
                try { second.Start(); return port; }
                catch (SocketException) when (attempt < 50) { }
                finally { second.Stop(); }
            }
            finally { first.Stop(); }
        }
    }
}
