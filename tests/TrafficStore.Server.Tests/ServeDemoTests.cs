using System.CommandLine;
using System.Text.RegularExpressions;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Cli;
using TrafficStore.Server.Tests.Support;

namespace TrafficStore.Server.Tests;

/// <summary>`trafficstore serve --demo` run in-process on a fresh store, read with a stock Flight client.</summary>
public partial class ServeDemoTests
{
    [GeneratedRegex(@"Serving Arrow Flight on (http://\S+) ")]
    private static partial Regex ServingLine();

    [GeneratedRegex(@"admin token \(keep it secret\):\s+(\S+)")]
    private static partial Regex TokenLine();

    private static async Task<(Task<int> Run, string Url, string Output)> StartAsync(string store, StringWriter output, CancellationToken ct)
    {
        var stdout = TextWriter.Synchronized(output);
        var root = CliApp.Build(stdout, stdout, stderrIsTerminal: false);
        var run = root.Parse(["serve", "--store", store, "--listen", "127.0.0.1:0", "--demo", "--log-format", "text"])
            .InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stdout }, ct);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            string text;
            lock (output) text = output.ToString();
            var m = ServingLine().Match(text);
            if (m.Success) return (run, m.Groups[1].Value, text);
            if (run.IsCompleted) Assert.Fail($"serve exited with {await run}: {text}");
            Assert.True(DateTime.UtcNow < deadline, "serve did not start in time: " + text);
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task ServeDemoFillsTheStoreAndServesEveryTable()
    {
        var store = TestServer.NewDirectory();
        try
        {
            using var cts = new CancellationTokenSource();
            var output = new StringWriter();
            var (run, url, text) = await StartAsync(store, output, cts.Token);
            var token = TokenLine().Match(text).Groups[1].Value;
            Assert.False(string.IsNullOrEmpty(token), text);
            Assert.Contains("trafficstore query --server", text);

            using (var channel = GrpcChannel.ForAddress(url))
            {
                var client = new FlightClient(channel);
                var auth = TestServer.Auth(token);
                using var list = client.ListFlights(new FlightCriteria(), auth);
                var tables = new List<string>();
                while (await list.ResponseStream.MoveNext()) tables.Add(list.ResponseStream.Current.Descriptor.Paths.Single());
                Assert.Equal(TrafficStore.Store.Tables.TrafficTables.Names.Order(), tables.Order());
                foreach (var table in tables.Append("connections as of -5m").Append("http where namespace=shop from -15m"))
                {
                    using var call = client.GetStream(new FlightTicket(table == "packets" ? "packets limit 10" : table), auth);
                    long rows = 0;
                    while (await call.ResponseStream.MoveNext()) rows += call.ResponseStream.Current.Length;
                    Assert.True(rows > 0, $"'{table}' returned no rows");
                }
            }

            cts.Cancel();
            Assert.Equal(CliApp.ExitOk, await run);
            lock (output) Assert.Contains("Store flushed and closed.", output.ToString());

            // Second run on the same store: the demo data is kept, not generated again.
            using var again = new CancellationTokenSource();
            var output2 = new StringWriter();
            var (run2, _, text2) = await StartAsync(store, output2, again.Token);
            Assert.Contains("Demo data already in", text2);
            Assert.DoesNotContain("admin token", text2); // the token file exists now
            again.Cancel();
            Assert.Equal(CliApp.ExitOk, await run2);
        }
        finally { Directory.Delete(store, true); }
    }
}
