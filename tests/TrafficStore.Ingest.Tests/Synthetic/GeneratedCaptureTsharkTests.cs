using System.Globalization;
using System.Text.Json;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Synthetic;

/// <summary>
/// Checks a generated capture against tshark: everything decodes, nothing is malformed, and each
/// intended feature (HTTP details, gRPC statuses, DNS answers, TLS handshakes, TCP trouble) shows
/// up with the fields tshark reports for it.
/// </summary>
public class GeneratedCaptureTsharkTests : IClassFixture<GeneratedCaptureFixture>
{
    private readonly GeneratedCaptureFixture _capture;

    public GeneratedCaptureTsharkTests(GeneratedCaptureFixture capture) => _capture = capture;

    private IReadOnlyList<IReadOnlyDictionary<string, string>> Rows(string section) => _capture.Oracle[section].Rows;

    private static int Int(IReadOnlyDictionary<string, string> row, string column) =>
        row[column].Length == 0 ? 0 : int.Parse(row[column], CultureInfo.InvariantCulture);

    private static readonly string[] AnalysisColumns =
    {
        "retransmission", "fast_retransmission", "spurious_retransmission", "duplicate_ack", "out_of_order",
        "zero_window", "zero_window_probe", "window_full", "lost_segment", "keep_alive",
    };

    [TsharkFact]
    public void NothingIsMalformedAndNoExpertErrors()
    {
        string bad = Tshark.Fields(_capture.PcapPath, "_ws.malformed || _ws.expert.severity == error", "frame.number", "_ws.expert.message");
        Assert.Equal("", bad);
    }

    [TsharkFact]
    public void EveryChecksumIsValid()
    {
        string bad = Tshark.Run("tshark", "-n", "-r", _capture.PcapPath,
            "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-Y", "(ip && ip.checksum.status != 1) || (tcp && tcp.checksum.status != 1) || (udp && udp.checksum.status != 1) || !(tcp || udp)",
            "-T", "fields", "-e", "frame.number");
        Assert.Equal("", bad);
    }

    [TsharkFact]
    public void NoSegmentAcknowledgesDataThatWasNeverSent()
    {
        Assert.Equal("", Tshark.Fields(_capture.PcapPath, "tcp.analysis.ack_lost_segment", "frame.number"));
    }

    [TsharkFact]
    public void OnlyTheTroubleConnectionsCarryWarnings()
    {
        // Warnings (zero window, lost segment, RST...) belong to the five trouble connections alone.
        string warnings = Tshark.Fields(_capture.PcapPath, "_ws.expert.severity == warning", "tcp.stream");
        var streams = Tshark.Lines(warnings).Distinct().Count();
        Assert.InRange(streams, 3, 5);
    }

    [TsharkFact]
    public void OracleRowCountsMatchWhatWasGenerated()
    {
        Assert.Equal(_capture.Summary.TcpConnections, Rows("tcp").Count);
        Assert.Equal(_capture.Summary.DnsQueries, Rows("dns").Count);
        Assert.Equal(_capture.Summary.TlsConnections, Rows("tls").Count);
        Assert.Equal(_capture.Summary.HttpExchanges, Rows("http").Count);
        Assert.Equal(_capture.Summary.GrpcCalls, Rows("http").Count(r => r["proto"] == "HTTP/2"));
        Assert.Equal(_capture.Summary.DnsUnanswered, Rows("dns").Count(r => r["response_frame"].Length == 0));
    }

    [TsharkFact]
    public void TcpConversationStatisticsListEveryConnection()
    {
        string conv = Tshark.Run("tshark", "-n", "-r", _capture.PcapPath, "-q", "-z", "conv,tcp");
        int rows = Tshark.Lines(conv).Count(l => l.Contains("<->", StringComparison.Ordinal));
        Assert.Equal(_capture.Summary.TcpConnections, rows);
    }

    [TsharkFact]
    public void CleanConnectionsHaveNoTcpAnalysisFlags()
    {
        var flagged = Rows("tcp").Where(r => AnalysisColumns.Any(c => Int(r, c) > 0)).ToList();
        // The lossy download, the zero-window stall, the reordering, the unanswered SYN.
        Assert.Equal(4, flagged.Count);
    }

    [TsharkFact]
    public void LossyConnectionShowsDuplicateAcksAndAFastRetransmission()
    {
        var row = Assert.Single(Rows("tcp"), r => Int(r, "fast_retransmission") > 0);
        Assert.True(Int(row, "duplicate_ack") >= 3, "three or more duplicate ACKs before the fast retransmission");
        Assert.Equal(1, Int(row, "lost_segment"));
        // The fast retransmission and the RTO-resent request.
        Assert.Equal(2, Int(row, "retransmission"));
    }

    [TsharkFact]
    public void ZeroWindowEpisodeHasWindowFullProbesAndProbeAcks()
    {
        var row = Assert.Single(Rows("tcp"), r => Int(r, "zero_window") > 0);
        Assert.Equal(1, Int(row, "window_full"));
        Assert.Equal(3, Int(row, "zero_window_probe"));
        string updates = Tshark.Fields(_capture.PcapPath, $"tcp.stream == {row["stream"]} && tcp.analysis.window_update", "frame.number");
        Assert.Single(Tshark.Lines(updates));
        string probeAcks = Tshark.Fields(_capture.PcapPath, $"tcp.stream == {row["stream"]} && tcp.analysis.zero_window_probe_ack", "frame.number");
        Assert.Equal(3, Tshark.Lines(probeAcks).Length);
    }

    [TsharkFact]
    public void ReorderedSegmentIsFlaggedOutOfOrder()
    {
        var row = Assert.Single(Rows("tcp"), r => Int(r, "out_of_order") > 0);
        Assert.Equal(1, Int(row, "out_of_order"));
        Assert.Equal(0, Int(row, "retransmission"));
    }

    [TsharkFact]
    public void RefusedAndUnansweredConnectionAttempts()
    {
        var refused = Assert.Single(Rows("tcp"), r => Int(r, "rst_s2c") > 0);
        Assert.Equal((1, 0), (Int(refused, "syn"), Int(refused, "synack")));
        Assert.Equal("9000", refused["server_port"]);
        var unanswered = Assert.Single(Rows("tcp"), r => Int(r, "syn") == 3);
        Assert.Equal(0, Int(unanswered, "synack"));
        Assert.Equal(2, Int(unanswered, "retransmission"));
        Assert.Equal(3, Int(unanswered, "pkts_c2s") + Int(unanswered, "pkts_s2c"));
    }

    [TsharkFact]
    public void OneConnectionSpansTheWholeCapture()
    {
        double start = _capture.StartNs / 1e9, end = _capture.EndNs / 1e9;
        Assert.Contains(Rows("tcp"), r =>
            double.Parse(r["first_ts"], CultureInfo.InvariantCulture) - start < 1 &&
            end - double.Parse(r["last_ts"], CultureInfo.InvariantCulture) < 1);
    }

    [TsharkFact]
    public void HttpFeaturesAreDecoded()
    {
        var http1 = Rows("http").Where(r => r["proto"] == "HTTP/1.1").ToList();
        var statuses = http1.Select(r => r["status"]).ToHashSet();
        Assert.Superset(new HashSet<string> { "200", "201", "401", "403", "429", "500", "503" }, statuses);
        Assert.Contains(http1, r => r["transfer_encoding"] == "chunked");
        // gzip: tshark reports the decoded length beside the encoded one.
        Assert.Contains(http1, r => Int(r, "resp_body_decoded") > Int(r, "resp_body") && Int(r, "resp_body") > 0);
        // Keep-alive: several exchanges on one connection.
        Assert.Contains(http1.GroupBy(r => r["stream"]), g => g.Count() >= 5);

        string bearer = Tshark.Fields(_capture.PcapPath, "http.authorization", "http.authorization");
        Assert.All(Tshark.Lines(bearer), l => Assert.StartsWith("Bearer eyJ", l));
        string card = Tshark.Fields(_capture.PcapPath, "http.request.method == \"POST\" && http.file_data contains \"4111 1111 1111 1111\" && http.file_data contains \"@example.com\"", "http.request.uri");
        Assert.Contains("/api/v1/payments", Tshark.Lines(card));
    }

    [TsharkFact]
    public void GrpcCallsDecodeWithStatusesAndMessages()
    {
        var grpc = Rows("http").Where(r => r["proto"] == "HTTP/2").ToList();
        Assert.NotEmpty(grpc);
        Assert.All(grpc, r => Assert.Equal("application/grpc", r["content_type"]));
        var statuses = grpc.Select(r => r["grpc_status"]).ToHashSet();
        Assert.Superset(new HashSet<string> { "0", "5", "14" }, statuses);
        Assert.Contains(grpc, r => r["uri"] == "/shop.inventory.v1.InventoryService/Reserve" && r["grpc_status"] == "5");

        string messages = Tshark.Fields(_capture.PcapPath, "grpc", "grpc.message_length");
        Assert.NotEmpty(Tshark.Lines(messages));
        string errors = Tshark.Fields(_capture.PcapPath, "http2.header.name == \"grpc-message\"", "http2.header.value");
        Assert.Contains(Tshark.Lines(errors), l => l.Contains("sku SKU-99999 not found", StringComparison.Ordinal));
        string preface = Tshark.Fields(_capture.PcapPath, "http2.magic", "tcp.stream");
        Assert.NotEmpty(Tshark.Lines(preface));
    }

    [TsharkFact]
    public void DnsAnswersAndFailuresAreDecoded()
    {
        var dns = Rows("dns");
        Assert.Contains(dns, r => r["qtype_name"] == "A" && r["a"].StartsWith("10.96.", StringComparison.Ordinal));
        Assert.Contains(dns, r => r["qtype_name"] == "AAAA" && r["aaaa"].StartsWith("fd00:10:96::", StringComparison.Ordinal));
        Assert.Contains(dns, r => r["qname"] == "www.example.com" && r["cname"] == "www.example.com-v4.edgesuite.net|a1422.dscr.akamai.net");
        Assert.Contains(dns, r => r["qtype_name"] == "SRV" && r["qname"] == "_grpc._tcp.inventory.shop.svc.cluster.local" && r["answers"] == "1");
        Assert.Contains(dns, r => r["rcode_name"] == "NXDOMAIN");
        Assert.Contains(dns, r => r["qname"] == "telemetry.vendor.example" && r["response_frame"].Length == 0);
        var overTcp = Assert.Single(dns, r => r["transport"] == "tcp");
        Assert.Equal("40", overTcp["answers"]);
        string srv = Tshark.Fields(_capture.PcapPath, "dns.srv.port == 50051", "dns.srv.target");
        Assert.Contains("inventory.shop.svc.cluster.local", Tshark.Lines(srv));
    }

    [TsharkFact]
    public void TlsHandshakesCarryTheIntendedFields()
    {
        var tls = Rows("tls");
        var v13 = Assert.Single(tls, r => r["sni"] == "checkout.shop.svc.cluster.local" && r["version_name"] == "TLSv1.3" && r["stream"] == StreamOfTourTls(tls, "checkout"));
        Assert.Equal("h2|http/1.1", v13["alpn_offered"]);
        Assert.Equal("0x0304", v13["ch_max_version"]);
        Assert.Contains(tls, r => r["version_name"] == "TLSv1.2" && r["cipher"] == "0xc02f" && r["alpn_selected"] == "http/1.1");
        var failure = Assert.Single(tls, r => r["alert"].Length > 0);
        Assert.Equal("2:40 Handshake Failure", failure["alert"]);
        Assert.Equal("s2c", failure["alert_dir"]);

        // GREASE (RFC 8701) in cipher suites, groups and versions; x25519 key share.
        string hello = Tshark.Fields(_capture.PcapPath, "tls.handshake.type == 1 && tls.handshake.extensions.supported_version == 0x0304",
            "tls.handshake.extensions_supported_group", "tls.handshake.extensions_key_share_group");
        string first = Tshark.Lines(hello)[0];
        Assert.Matches("0x([0-9a-f])a\\1a", first);
        Assert.Contains("29", first.Split('\t')[1]); // x25519 = 29

        // TLS 1.2 carries a real X.509 certificate with the service names.
        string cert = Tshark.Fields(_capture.PcapPath, "tls.handshake.type == 11", "x509ce.dNSName");
        Assert.Contains(Tshark.Lines(cert), l => l.Contains("checkout.shop.svc.cluster.local", StringComparison.Ordinal));
    }

    private static string StreamOfTourTls(IReadOnlyList<IReadOnlyDictionary<string, string>> tls, string service) =>
        tls.First(r => r["sni"].StartsWith(service + ".", StringComparison.Ordinal) && r["version_name"] == "TLSv1.3")["stream"];

    [TsharkFact]
    public void EveryAddressIsAPodServiceOrTheUnreachableHost()
    {
        using var snapshot = JsonDocument.Parse(File.ReadAllText(_capture.SnapshotPath));
        var known = new HashSet<string>(StringComparer.Ordinal) { "10.96.254.254" };
        foreach (JsonElement item in snapshot.RootElement.GetProperty("items").EnumerateArray())
        {
            string kind = item.GetProperty("kind").GetString()!;
            if (kind == "Pod")
                foreach (JsonElement ip in item.GetProperty("status").GetProperty("podIPs").EnumerateArray()) known.Add(ip.GetProperty("ip").GetString()!);
            if (kind == "Service")
                foreach (JsonElement ip in item.GetProperty("spec").GetProperty("clusterIPs").EnumerateArray()) known.Add(ip.GetString()!);
        }
        string addresses = Tshark.Fields(_capture.PcapPath, "ip || ipv6", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst");
        var seen = Tshark.Lines(addresses).SelectMany(l => l.Split('\t')).Where(a => a.Length > 0).ToHashSet();
        Assert.Empty(seen.Except(known));
        Assert.Contains(seen, a => a.Contains(':'));
    }
}
