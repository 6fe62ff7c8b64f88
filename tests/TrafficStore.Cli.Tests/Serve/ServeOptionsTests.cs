using System.CommandLine;
using System.Text.RegularExpressions;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Tables;
using TrafficStore.Server.Flight;
using TrafficStore.Store.Tables;

namespace TrafficStore.Cli.Tests.Serve;

/// <summary>
/// `serve` flags a user (or deploy/) sets: the delivery-mark bounds reach the store, and the
/// --ingest-token/--query-token tokens (the deploy Secret's variables) are accepted with their scopes.
/// </summary>
public partial class ServeOptionsTests
{
    private const string IngestToken = "ingest-token-for-serve-options-test";
    private const string QueryToken = "query-token-for-serve-options-test";

    [GeneratedRegex(@"Serving Arrow Flight on (http://\S+) ")]
    private static partial Regex ServingLine();

    [Theory]
    [InlineData("--max-delivery-sources", "0", "--max-delivery-sources must be at least 1")]
    [InlineData("--delivery-mark-max-idle", "5x", "--delivery-mark-max-idle '5x' is not a duration")]
    [InlineData("--delivery-mark-max-idle", "none", "--delivery-mark-max-idle 'none' is not a duration")]
    [InlineData("--delivery-mark-max-idle", "1e12d", "--delivery-mark-max-idle '1e12d' is not a duration")]
    [InlineData("--ingest-token", "short", "shorter than 16 characters")]
    public void BadValuesAreUsageErrorsBeforeTheStoreOpens(string flag, string value, string message)
    {
        using var store = new CliStore();
        var (exit, _, error) = store.Run("serve", "--listen", "127.0.0.1:0", flag, value);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains(message, error);
        Assert.DoesNotContain("   at ", error); // a message, not a stack trace
    }

    /// <summary>A port in use: Kestrel's failure was logged with its whole stack trace before the one-line message.</summary>
    [Fact]
    public void APortInUseIsOneLineWithoutAStackTrace()
    {
        using var store = new CliStore();
        var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        try
        {
            int port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
            var (exit, output, error) = store.Run("serve", "--listen", $"127.0.0.1:{port}", "--log-format", "text");
            Assert.Equal(CliApp.ExitUsage, exit);
            Assert.Contains($"cannot listen on 127.0.0.1:{port}", error);
            Assert.DoesNotContain("   at ", output + error);
            Assert.DoesNotContain("Exception", output + error);
            // Checked before anything else: no store or token file was made for a server that never ran.
            Assert.False(Directory.Exists(Path.Combine(store.Dir, "store")));

            // The ops port (/healthz, /metrics) is the one after --listen's: name it when that is the busy one.
            (exit, _, error) = store.Run("serve", "--listen", $"127.0.0.1:{port - 1}", "--log-format", "text");
            Assert.Equal(CliApp.ExitUsage, exit);
            if (error.Contains($"127.0.0.1:{port}", StringComparison.Ordinal))
                Assert.Contains("/healthz and /metrics", error);
        }
        finally { busy.Stop(); }
    }

    [Fact]
    public async Task MaxDeliverySourcesRefusesTheSecondAgent_AndTheEnvironmentTokensHaveTheirScopes()
    {
        using var store = new CliStore();
        using var cts = new CancellationTokenSource();
        var output = new StringWriter();
        var stdout = TextWriter.Synchronized(output);
        var run = CliApp.Build(stdout, stdout, stderrIsTerminal: false)
            .Parse(["serve", "--store", Path.Combine(store.Dir, "store"), "--listen", "127.0.0.1:0", "--log-format", "text",
                    "--max-delivery-sources", "1", "--delivery-mark-max-idle", "12h",
                    "--ingest-token", IngestToken, "--query-token", QueryToken])
            .InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, cts.Token);
        string url = await WaitForAddressAsync(run, output);
        try
        {
            using var channel = GrpcChannel.ForAddress(url);
            var client = new FlightClient(channel);
            Assert.Equal(5, await PutAsync(client, IngestToken, "agent-one", 5));
            var refused = await Assert.ThrowsAsync<RpcException>(() => PutAsync(client, IngestToken, "agent-two", 3));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("at most 1 ", refused.Status.Detail);
            // The agent with a mark goes on.
            Assert.Equal(2, await PutAsync(client, IngestToken, "agent-one", 2, batchSeq: 2));

            // The query token reads (what the ingest token stored) but may not write.
            var (exit, csv, error) = RunCli("query", "capture_stats select source", "--format", "csv", "--server", url, "--token", QueryToken);
            Assert.True(exit == 0, error);
            Assert.Equal(1 + 7, csv.TrimEnd('\n').Split('\n').Length);
            var denied = await Assert.ThrowsAsync<RpcException>(() => PutAsync(client, QueryToken, "agent-one", 1, batchSeq: 3));
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
            // Without any token the CLI says where one goes.
            (exit, _, error) = RunCli("query", "capture_stats", "--server", url, "--token", "");
            Assert.Equal(CliApp.ExitUsage, exit);
            Assert.Contains("give --token T, set TRAFFICSTORE_TOKEN", error);
            // ... and the ingest token may not read.
            (exit, _, error) = RunCli("query", "capture_stats", "--server", url, "--token", IngestToken);
            Assert.Equal(CliApp.ExitUsage, exit);
            Assert.Contains("lacks the 'read' scope", error);
        }
        finally
        {
            cts.Cancel();
            Assert.Equal(CliApp.ExitOk, await run);
        }
    }

    /// <summary>
    /// The deploy ConfigMap's retention settings were read by nothing: --retention-max-age/--retention-max-bytes
    /// (default: its variables) set the global limits at start and keep the namespace limits `retention set` made.
    /// </summary>
    [Fact]
    public async Task RetentionFlagsSetTheGlobalLimitsAtStart()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("retention", "set", "--namespace", "shop", "--max-age", "2h").Exit);
        using var cts = new CancellationTokenSource();
        var output = new StringWriter();
        var stdout = TextWriter.Synchronized(output);
        var run = CliApp.Build(stdout, stdout, stderrIsTerminal: false)
            .Parse(["serve", "--store", Path.Combine(store.Dir, "store"), "--listen", "127.0.0.1:0", "--log-format", "text",
                    "--retention-max-age", "168h", "--retention-max-bytes", "80G", "--retention-interval", "5m"])
            .InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, cts.Token);
        await WaitForAddressAsync(run, output);
        cts.Cancel();
        Assert.Equal(CliApp.ExitOk, await run);

        var (exit, list, error) = store.Run("retention", "list");
        Assert.True(exit == 0, error);
        Assert.Contains($"global\t7d\t{80L << 30}", list);
        Assert.Contains("namespace shop\t2h\tnone", list);

        (exit, _, error) = store.Run("serve", "--listen", "127.0.0.1:0", "--retention-interval", "none");
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("--retention-interval", error);
    }

    private static (int Exit, string Out, string Err) RunCli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static async Task<string> WaitForAddressAsync(Task<int> run, StringWriter output)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            string text;
            lock (output) text = output.ToString();
            var m = ServingLine().Match(text);
            if (m.Success) return m.Groups[1].Value;
            if (run.IsCompleted) Assert.Fail($"serve exited with {await run}: {text}");
            Assert.True(DateTime.UtcNow < deadline, "serve did not start in time: " + text);
            await Task.Delay(50);
        }
    }

    /// <summary>One DoPut of <paramref name="rows"/> capture_stats rows as an agent's batch; the rows the server stored.</summary>
    private static async Task<long> PutAsync(FlightClient client, string token, string agent, int rows, long batchSeq = 1)
    {
        var batch = new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build(Enumerable.Range(0, rows).Select(i => new CaptureStatsRow
        {
            StartedNs = 1_700_000_000_000_000_000L + i,
            CaptureId = 7_000,
            Source = agent,
            State = "running",
            Frames = i,
        }).ToList());
        var auth = new Metadata { { "authorization", "Bearer " + token } };
        using var call = client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.CaptureStats), auth);
        try { await call.RequestStream.WriteAsync(batch, DeliveryMetadata.Encode(agent, batchSeq, 0)); }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
        {
            // The server refused the call (a token without the write scope, an agent past the limit) while the batch was
            // still being written: grpc-dotnet fails the write as Cancelled unless it already read the call's status, which
            // the response below throws.
        }
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        long stored = (long)System.Text.Json.Nodes.JsonNode.Parse(call.ResponseStream.Current.ApplicationMetadata.ToStringUtf8())!["rows"]!;
        await call.RequestStream.CompleteAsync();
        while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
        return stored;
    }
}
