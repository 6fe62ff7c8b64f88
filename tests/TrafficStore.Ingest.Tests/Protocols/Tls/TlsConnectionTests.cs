using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Tls;
using static TrafficStore.Ingest.Tests.Protocols.Tls.TlsMessageBuilder;

namespace TrafficStore.Ingest.Tests.Protocols.Tls;

using TrafficStore.Ingest.Tests.Protocols.Dns;

public class TlsConnectionTests
{
    private const long S = 1_000_000_000L;
    private static readonly FlowDirection C2S = FlowDirection.ClientToServer, S2C = FlowDirection.ServerToClient;

    private static (List<TlsHandshake> Rows, List<string> Text) Run(IReadOnlyList<StreamChunk> chunks, Action<IStreamParser, IReadOnlyList<StreamChunk>>? feed = null, TlsOptions? options = null)
    {
        var sink = new ListSink<TlsHandshake>();
        var tls = new TlsProtocol(sink, options);
        var parser = tls.CreateParser(TestFlows.Tcp(serverPort: 443));
        (feed ?? ((p, c) => SplitFeeder.Whole(p, c)))(parser, chunks);
        parser.OnEnd(100 * S);
        return (sink.Rows, TableText.Rows(TlsTable.Definition, sink.Rows));
    }

    private static byte[] SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test.example, O=TrafficStore Tests", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("test.example");
        san.AddDnsName("www.test.example");
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero), new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));
        return cert.RawData;
    }

    private static readonly byte[] Certificate12 = SelfSignedCertificate();

    /// <summary>A TLS 1.2 full handshake: the ClientHello split over two records, the server flight in one record.</summary>
    private static IReadOnlyList<StreamChunk> Tls12Handshake()
    {
        var ch = ClientHello(0x0303, new[] { 0xc02f, 0x0004 }, Sni("test.example"), Alpn("h2", "http/1.1"), Groups(0x001d));
        var serverFlight = Cat(ServerHello(0x0303, 0x0004, false, ServerAlpn("h2")), Certificate(Certificate12), Handshake(14, Array.Empty<byte>()));
        return new[]
        {
            new StreamChunk(C2S, Cat(Record(22, ch[..30], 0x0301), Record(22, ch[30..], 0x0301)), new SegmentInfo(4, 1 * S)),
            new StreamChunk(S2C, Record(22, serverFlight), new SegmentInfo(6, 2 * S)),
            new StreamChunk(C2S, Cat(Record(22, Handshake(16, new byte[66])), Record(20, new byte[] { 1 }), Record(22, new byte[40])), new SegmentInfo(8, 3 * S)),
            new StreamChunk(S2C, Cat(Record(20, new byte[] { 1 }), Record(22, new byte[40])), new SegmentInfo(9, 4 * S)),
            new StreamChunk(C2S, Record(23, new byte[100]), new SegmentInfo(10, 5 * S)),
            new StreamChunk(C2S, Record(21, new byte[26]), new SegmentInfo(12, 6 * S)),
        };
    }

    [Fact]
    public void Tls12HandshakeRow()
    {
        var (rows, _) = Run(Tls12Handshake());
        var row = TableText.Row(TlsTable.Definition, Assert.Single(rows));
        Assert.Equal("1", row["client_hellos"]);
        Assert.Equal("1", row["server_hellos"]);
        Assert.Equal("1.000000000", row["ch_ts"]);
        Assert.Equal("test.example", row["sni"]);
        Assert.Equal("0x0303", row["ch_version"]);
        Assert.Equal("0x0303", row["ch_max_version"]);
        Assert.Equal("h2|http/1.1", row["alpn_offered"]);
        Assert.Equal("2.000000000", row["sh_ts"]);
        Assert.Equal("TLSv1.2", row["version_name"]);
        Assert.Equal("0x0004", row["cipher"]);
        Assert.Equal("TLS_RSA_WITH_RC4_128_MD5", row["cipher_name"]);
        Assert.Equal("h2", row["alpn_selected"]);
        Assert.Equal("0", row["hrr"]);
        Assert.Equal("encrypted", row["alert"]);   // the close_notify after ChangeCipherSpec is protected
        Assert.Equal("c2s", row["alert_dir"]);
        Assert.Equal("1.000000000", row["hello_delay"]);
        Assert.Equal("0x0301", row["ch_record_version"]);
        Assert.Equal("CN=test.example, O=TrafficStore Tests", row["cert_subject"]);
        Assert.Equal("test.example|www.test.example", row["cert_sans"]);
        Assert.Equal("1704164645.000000000", row["cert_not_before"]);
        Assert.Equal("5.000000000", row["first_app_data_ts"]);
        Assert.Equal("", row["anomalies"]);
    }

    [Fact]
    public void SplitInvariance()
    {
        var chunks = Tls12Handshake();
        var expected = Run(chunks).Text;
        foreach (var (name, feed) in SplitFeeder.AllWays(chunks))
        {
            Assert.True(expected.SequenceEqual(Run(chunks, feed).Text), name);
        }
    }

    [Fact]
    public void HelloRetryRequestThenTls13()
    {
        var grease = 0x0a0a;
        var ch1 = ClientHello(0x0303, new[] { grease, 0x1301, 0x1302 }, Empty(0x2a2a), SupportedVersions(grease, 0x0304, 0x0303), KeyShare(0x001d), Groups(0x001d, 0x0017));
        var hrr = ServerHello(0x0303, 0x1302, true, ServerSupportedVersion(0x0304), Extension(51, U16(0x0017)));
        var ch2 = ClientHello(0x0303, new[] { grease, 0x1301, 0x1302 }, SupportedVersions(grease, 0x0304, 0x0303), KeyShare(0x0017), Groups(0x001d, 0x0017));
        var sh = ServerHello(0x0303, 0x1302, false, ServerSupportedVersion(0x0304), Extension(51, Cat(U16(0x0017), Vec16(new byte[65]))));
        var chunks = new[]
        {
            new StreamChunk(C2S, Record(22, ch1, 0x0301), new SegmentInfo(1, 1 * S)),
            new StreamChunk(S2C, Cat(Record(22, hrr), Record(20, new byte[] { 1 })), new SegmentInfo(2, 2 * S)),
            new StreamChunk(C2S, Cat(Record(20, new byte[] { 1 }), Record(22, ch2)), new SegmentInfo(3, 3 * S)),
            // after the real ServerHello the server's handshake is encrypted (type 22 bytes here must be ignored)
            new StreamChunk(S2C, Cat(Record(22, sh), Record(23, new byte[200]), Record(22, new byte[] { 2, 0, 0, 1, 0xff })), new SegmentInfo(4, 4 * S)),
            new StreamChunk(C2S, Record(23, new byte[50]), new SegmentInfo(5, 5 * S)),
            new StreamChunk(C2S, Record(23, new byte[80]), new SegmentInfo(6, 6 * S)),
        };
        var row = TableText.Row(TlsTable.Definition, Assert.Single(Run(chunks).Rows));
        Assert.Equal("2", row["client_hellos"]);
        Assert.Equal("2", row["server_hellos"]);
        Assert.Equal("1", row["hrr"]);
        Assert.Equal("0x0304", row["ch_max_version"]);
        Assert.Equal("0x0304", row["version"]);
        Assert.Equal("TLSv1.3", row["version_name"]);
        Assert.Equal("TLS_AES_256_GCM_SHA384", row["cipher_name"]);
        Assert.Equal("4.000000000", row["sh_ts"]);
        Assert.Equal("1.000000000", row["hello_delay"]);
        Assert.Equal("23", row["server_key_share_group"]);
        Assert.Equal("6.000000000", row["first_app_data_ts"]);
        Assert.Equal("", row["anomalies"]);
    }

    [Fact]
    public void PlaintextAlertAnswersTheClientHello()
    {
        var chunks = new[]
        {
            new StreamChunk(C2S, Record(22, ClientHello(0x0303, new[] { 0x002f })), new SegmentInfo(1, 1 * S)),
            new StreamChunk(S2C, Record(21, new byte[] { 2, 40 }), new SegmentInfo(2, 2 * S)),
        };
        var row = TableText.Row(TlsTable.Definition, Assert.Single(Run(chunks).Rows));
        Assert.Equal("2:40 Handshake Failure", row["alert"]);
        Assert.Equal("s2c", row["alert_dir"]);
        Assert.Equal("0", row["server_hellos"]);
        Assert.Equal("", row["hello_delay"]);
    }

    [Fact]
    public void Ssl2CompatibleClientHello()
    {
        // RFC 5246 Appendix E.2: msg_type 1, version 3.1, 2 cipher specs (one SSLv2-only), no session id, 16-byte challenge
        var body = Cat(new byte[] { 1 }, U16(0x0301), U16(6), U16(0), U16(16), new byte[] { 0x00, 0x00, 0x04, 0x01, 0x00, 0x80 }, new byte[16]);
        var record = Cat(new[] { (byte)(0x80 | (body.Length >> 8)), (byte)body.Length }, body);
        var chunks = new[] { new StreamChunk(C2S, record, new SegmentInfo(1, S)) };
        Assert.Equal(ProtocolMatch.Yes, TlsClassifier.Classify(record));
        foreach (var (name, feed) in SplitFeeder.AllWays(chunks))
        {
            var row = TableText.Row(TlsTable.Definition, Assert.Single(Run(chunks, feed).Rows));
            Assert.True(row["client_hellos"] == "1" && row["ch_version"] == "0x0301" && row["sslv2_hello"] == "1" && row["ciphers_offered"] == "1", name);
        }
    }

    [Fact]
    public void RecordLongerThanTheCapStopsWithAnAnomaly()
    {
        var chunks = new[]
        {
            new StreamChunk(C2S, Record(22, ClientHello(0x0303, new[] { 0x002f })), new SegmentInfo(1, S)),
            new StreamChunk(S2C, Cat(new byte[] { 22, 3, 3 }, U16(5000), new byte[100]), new SegmentInfo(2, S)),
        };
        var row = Assert.Single(Run(chunks, options: new TlsOptions { MaxRecordLength = 4096 }).Rows);
        Assert.Contains("tls_record_too_long", row.Anomalies);
        Assert.Equal(0, row.ServerHellos);
    }

    [Fact]
    public void GarbageCertificateIsAnAnomalyNotAnException()
    {
        var flight = Cat(ServerHello(0x0303, 0x002f), Certificate(new byte[] { 0x30, 0x82, 0x01, 0x00, 1, 2, 3 }));
        var chunks = new[]
        {
            new StreamChunk(C2S, Record(22, ClientHello(0x0303, new[] { 0x002f })), new SegmentInfo(1, S)),
            new StreamChunk(S2C, Record(22, flight), new SegmentInfo(2, S)),
        };
        var row = Assert.Single(Run(chunks).Rows);
        Assert.Contains("tls_bad_certificate", row.Anomalies);
        Assert.Equal(1, row.CertificateCount);
    }

    [Fact]
    public void NonTlsBytesMakeNoRow()
    {
        var chunks = new[] { new StreamChunk(C2S, "GET / HTTP/1.1\r\n\r\n"u8.ToArray(), new SegmentInfo(1, S)) };
        Assert.Empty(Run(chunks).Rows);
        Assert.Equal(ProtocolMatch.No, TlsClassifier.Classify(chunks[0].Data));
    }

    [Fact]
    public void TableStartsWithTheOracleTlsColumns()
    {
        var oracle = Oracle.OracleFile.Section("tls12-rsa-rc4.pcap", "tls").Header;
        Assert.Equal(oracle, TlsTable.Definition.Columns.Take(oracle.Count).Select(c => c.Name));
    }

    [Fact]
    public void TruncatedAndCorruptedStreamsNeverThrow()
    {
        var stream = Tls12Handshake();
        var random = new Random(12345);
        for (int round = 0; round < 300; round++)
        {
            var mutated = stream.Select(c =>
            {
                var d = (byte[])c.Data.Clone();
                for (int k = 0; k < 1 + random.Next(4); k++) d[random.Next(d.Length)] ^= (byte)(1 + random.Next(255));
                return c with { Data = d[..random.Next(d.Length + 1)] };
            }).ToList();
            Run(mutated);
        }
    }

    [Fact]
    public void ClientHelloTimeIsThatOfTheSegmentDeliveringItsLastByte()
    {
        // every byte of the ClientHello record in its own segment (frames 1..n)
        var record = Record(22, ClientHello(0x0303, new[] { 0x002f }, Sni("one.byte.at.a.time")));
        var chunks = record.Select((b, i) => new StreamChunk(C2S, new[] { b }, new SegmentInfo(i + 1, (i + 1) * S))).ToList();
        var row = Assert.Single(Run(chunks).Rows);
        Assert.Equal(record.Length, row.ClientHelloFrame);
        Assert.Equal(record.Length * S, row.ClientHelloTimestampNs);
        Assert.Equal("one.byte.at.a.time", row.ClientHello!.ServerName);
    }

    [Fact]
    public void Tls13Draft18ServerHelloHasNoSessionIdOrCompression()
    {
        // draft-ietf-tls-tls13-18 §4.1.3: version, random, cipher_suite, extensions
        var sh = Handshake(2, Cat(U16(0x7f12), new byte[32], U16(0x1301), Vec16(Extension(51, Cat(U16(0x001d), Vec16(new byte[32]))))));
        var chunks = new[]
        {
            new StreamChunk(C2S, Record(22, ClientHello(0x0303, new[] { 0x1301 }, SupportedVersions(0x7f12, 0x0303))), new SegmentInfo(1, S)),
            new StreamChunk(S2C, Cat(Record(22, sh), Record(21, new byte[] { 1, 0 })), new SegmentInfo(2, 2 * S)),
        };
        var row = TableText.Row(TlsTable.Definition, Assert.Single(Run(chunks).Rows));
        Assert.Equal("0x7f12", row["ch_max_version"]);
        Assert.Equal("TLSv1.3-draft18", row["version_name"]);
        Assert.Equal("TLS_AES_128_GCM_SHA256", row["cipher_name"]);
        Assert.Equal("29", row["server_key_share_group"]);
        Assert.Equal("encrypted", row["alert"]); // after a TLS 1.3 ServerHello every record is protected
    }
}
