using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using TrafficStore.Server.Client;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Security;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

public class TransportTests
{
    [Fact]
    public async Task BatchesLargerThanTheDefaultGrpcLimitReachStockClientsInSlices()
    {
        await using var s = await TestServer.StartAsync();
        // 12 payload rows of 1 MiB bodies: 12 MiB in one batch, three times gRPC's default 4 MiB message limit.
        var table = TrafficTables.Get(TrafficTables.Payloads);
        var body = new byte[1 << 20];
        new Random(7).NextBytes(body);
        const int rows = 12;
        var ts = new TimestampArray.Builder(new Apache.Arrow.Types.TimestampType(Apache.Arrow.Types.TimeUnit.Nanosecond, "UTC"));
        var ids = new Int64Array.Builder();
        var bodies = new BinaryArray.Builder();
        for (int i = 0; i < rows; i++)
        {
            ts.Append(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + i));
            ids.Append(i + 1);
            bodies.Append(body.AsSpan());
        }
        var schema = new Schema([table.Schema.GetFieldByName("ts"), table.Schema.GetFieldByName("exchange_id"), table.Schema.GetFieldByName("body")], null);
        var batch = new RecordBatch(schema, [ts.Build(), ids.Build(), bodies.Build()], rows);
        var put = await s.Client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.Payloads), schema, TestServer.Auth(TestServer.Writer));
        await put.RequestStream.WriteAsync(batch);
        await put.RequestStream.CompleteAsync();
        Assert.True(await put.ResponseStream.MoveNext(CancellationToken.None));

        using var stockChannel = GrpcChannel.ForAddress(s.Server.Address); // default 4 MiB receive limit
        var stock = new FlightClient(stockChannel);
        using var call = stock.GetStream(new FlightTicket("payloads select exchange_id, body"), TestServer.Auth(TestServer.Admin));
        var received = new List<RecordBatch>();
        while (await call.ResponseStream.MoveNext()) received.Add(call.ResponseStream.Current);
        Assert.True(received.Count > 1);
        Assert.Equal(rows, received.Sum(b => b.Length));
        foreach (var b in received)
            for (int i = 0; i < b.Length; i++)
                Assert.True(((BinaryArray)b.Column(1)).GetBytes(i).SequenceEqual(body));

        // A client that walks away mid-stream: the server cancels its read-ahead and keeps serving.
        using (var abandoned = stock.GetStream(new FlightTicket("payloads select exchange_id, body"), TestServer.Auth(TestServer.Admin)))
            Assert.True(await abandoned.ResponseStream.MoveNext());
        Assert.Equal(rows, (await s.GetAsync("payloads select exchange_id")).Count);
    }

    [Fact]
    public async Task TlsServesFlightWithTheGivenCertificate()
    {
        var dir = TestServer.NewDirectory();
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
            using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var certPath = Path.Combine(dir, "server.crt");
            var keyPath = Path.Combine(dir, "server.key");
            await File.WriteAllTextAsync(certPath, cert.ExportCertificatePem());
            await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

            await using var db = TrafficDatabase.Open(Path.Combine(dir, "store"));
            await using var local = new LocalTrafficClient(db);
            await using var server = await TrafficServer.StartAsync(new ServedStore(db, local), TokenFile.Parse(TestServer.TokenJson), new TrafficServerOptions
            {
                Listen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
                TlsCertificateFile = certPath,
                TlsKeyFile = keyPath,
                MinimumLogLevel = LogLevel.Warning,
                JsonLogs = false,
            });
            Assert.Equal("https", server.Address.Scheme);
            var thumbprint = cert.GetCertHashString();
            var handler = new HttpClientHandler
            {
                // Trust exactly the test certificate.
                ServerCertificateCustomValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == thumbprint,
            };
            using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { HttpHandler = handler });
            var client = new FlightClient(channel);
            using var call = client.ListFlights(new FlightCriteria(), TestServer.Auth(TestServer.Reader));
            int flights = 0;
            while (await call.ResponseStream.MoveNext()) flights++;
            Assert.Equal(TrafficTables.All.Count, flights);

            using var plain = GrpcChannel.ForAddress(new Uri("http://" + server.Address.Authority));
            var refused = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                using var c = new FlightClient(plain).ListFlights(new FlightCriteria(), TestServer.Auth(TestServer.Reader));
                await c.ResponseStream.MoveNext();
            });
            Assert.NotNull(refused);

            // TrafficStore's own client (the CLI's --server): --tls-ca trusts the certificate for this client alone; the
            // system's trust store does not know it, and a client given an unrelated authority refuses it too.
            await using (var trusting = FlightTrafficClient.Connect("grpc+tls://" + server.Address.Authority, TestServer.Reader, certPath))
                Assert.Contains((await trusting.QueryAsync("dns limit 1")).Schema.FieldsList, f => f.Name == "dns_time");
            await using (var untrusting = FlightTrafficClient.Connect("grpc+tls://" + server.Address.Authority, TestServer.Reader))
                await Assert.ThrowsAnyAsync<Exception>(() => untrusting.QueryAsync("dns limit 1"));
            using var otherKey = RSA.Create(2048);
            using var other = new CertificateRequest("CN=other", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            var otherPath = Path.Combine(dir, "other.crt");
            await File.WriteAllTextAsync(otherPath, other.ExportCertificatePem());
            await using (var wrongCa = FlightTrafficClient.Connect("grpc+tls://" + server.Address.Authority, TestServer.Reader, otherPath))
                await Assert.ThrowsAnyAsync<Exception>(() => wrongCa.QueryAsync("dns limit 1"));
            Assert.Throws<QueryException>(() => FlightTrafficClient.Connect("grpc://" + server.Address.Authority, TestServer.Reader, certPath));
            Assert.Throws<QueryException>(() => FlightTrafficClient.Connect("grpc+tls://" + server.Address.Authority, TestServer.Reader, keyPath)); // no certificate in it
        }
        finally { Directory.Delete(dir, true); }
    }
}
