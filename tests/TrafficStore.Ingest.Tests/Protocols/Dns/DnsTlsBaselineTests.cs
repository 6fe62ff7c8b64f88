using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>
/// Fields the tshark oracle lacks, checked against the source projects' own baselines beside the
/// captures: Arkime's session JSON (DNS answers with TTLs and data, header flags; JA3/JA4, leaf
/// certificate) and Zeek's ssl.log / dns.log.
/// </summary>
public class DnsTlsBaselineTests
{
    private static JsonElement ArkimeSessions(string capture) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.PcapDir, Path.GetFileNameWithoutExtension(capture) + ".arkime.json")))
            .RootElement.GetProperty("sessions3");

    /// <summary>Zeek log rows as dictionaries (header from #fields).</summary>
    private static List<Dictionary<string, string>> ZeekLog(string file)
    {
        string[] fields = Array.Empty<string>();
        var rows = new List<Dictionary<string, string>>();
        foreach (var line in File.ReadLines(Path.Combine(SharedData.PcapDir, file)))
        {
            if (line.StartsWith("#fields\t", StringComparison.Ordinal)) { fields = line.Split('\t')[1..]; continue; }
            if (line.StartsWith('#') || line.Length == 0) continue;
            var values = line.Split('\t');
            rows.Add(fields.Select((f, i) => (f, v: i < values.Length ? values[i] : "")).ToDictionary(x => x.f, x => x.v));
        }
        return rows;
    }

    [Fact]
    public void DnsAnswersFlagsAndStatusMatchArkime()
    {
        const string capture = "dns-mixed-types-nxdomain.pcap";
        var ours = DnsTlsCorpus.Ingest(capture).Dns;
        int checkedAnswers = 0, checkedTransactions = 0;
        foreach (var session in ArkimeSessions(capture).EnumerateArray())
        {
            var body = session.GetProperty("body");
            string client = body.GetProperty("source").GetProperty("ip").GetString()!;
            int clientPort = body.GetProperty("source").GetProperty("port").GetInt32();
            foreach (var t in body.GetProperty("dns").EnumerateArray())
            {
                string host = t.GetProperty("queryHost").GetString()!;
                string qt = t.GetProperty("qt").GetString()!;
                var candidates = ours.Where(r => r.ClientIp == client && r.ClientPort == clientPort
                    && string.Equals(r.QueryName, host, StringComparison.OrdinalIgnoreCase)
                    && (r.QueryTypeName == qt || (qt == "ANY" && r.QueryType == 255))).ToList();
                Assert.True(candidates.Count > 0, $"{host} {qt}: no transaction");
                var expectedFlags = t.GetProperty("headerFlags").EnumerateArray().Select(f => f.GetString()!).Order().ToList();
                var answers = t.TryGetProperty("answers", out var a) ? a.EnumerateArray().ToList() : new List<JsonElement>();
                // Arkime keeps one entry per distinct transaction; one of ours must agree on everything
                bool any = candidates.Any(r =>
                    r.RcodeName == t.GetProperty("status").GetString()
                    && Flags(r).SequenceEqual(expectedFlags)
                    && answers.All(x => r.Answers.Concat(r.AuthorityRecords).Concat(r.AdditionalRecords).Any(rr => SameRecord(rr, x))));
                Assert.True(any, $"{host} {qt}: no transaction agrees with Arkime");
                checkedTransactions++;
                checkedAnswers += answers.Count;
            }
        }
        Assert.Equal(19, checkedTransactions);
        Assert.True(checkedAnswers >= 20, $"{checkedAnswers} answers");
    }

    private static List<string> Flags(DnsTransaction r)
    {
        var f = new List<string>();
        if (r.Authoritative == true) f.Add("AA");
        if (r.TruncatedFlag == true) f.Add("TC");
        if (r.RecursionDesired == true) f.Add("RD");
        if (r.RecursionAvailable == true) f.Add("RA");
        return f.Order().ToList();
    }

    private static bool SameRecord(DnsRecord ours, JsonElement arkime)
    {
        if (!string.Equals(ours.Name, arkime.GetProperty("name").GetString(), StringComparison.OrdinalIgnoreCase)) return false;
        if (ours.TypeName != arkime.GetProperty("type").GetString()) return false;
        if (ours.Ttl != arkime.GetProperty("ttl").GetUInt32()) return false;
        string? data = arkime.GetProperty("type").GetString() switch
        {
            "A" or "AAAA" => arkime.GetProperty("ip").GetString(),
            "CNAME" => arkime.GetProperty("cname").GetString(),
            "NS" => arkime.GetProperty("nameserver").GetString(),
            "MX" => $"{arkime.GetProperty("priority").GetInt32()} {arkime.GetProperty("mx").GetString()}",
            "TXT" => string.Join(' ', arkime.GetProperty("txt").EnumerateArray().Select(s => "\"" + s.GetString() + "\"")),
            _ => null, // PTR: Arkime keeps no data
        };
        return data is null || string.Equals(ours.Data, data, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void DnsTransactionsMatchZeekDnsLog()
    {
        const string capture = "ipv6-frag-dns.pcap";
        var ours = DnsTlsCorpus.Ingest(capture).Dns;
        var zeek = ZeekLog("ipv6-frag-dns.zeek-dns.log");
        Assert.Equal(zeek.Count, ours.Count);
        foreach (var z in zeek)
        {
            var r = ours.Single(o => o.Id.ToString(CultureInfo.InvariantCulture) == z["trans_id"] && (z["rtt"] == "-") == (o.ResponseFrame is null));
            Assert.Equal(z["query"], r.QueryName);
            Assert.Equal(z["qtype_name"], r.QueryTypeName);
            Assert.Equal(z["RD"] == "T", r.RecursionDesired);
            if (z["rtt"] == "-") continue;
            Assert.Equal(z["rcode_name"], r.RcodeName);
            Assert.Equal(z["AA"] == "T", r.Authoritative);
            Assert.Equal(z["TC"] == "T", r.TruncatedFlag);
            Assert.Equal(z["RA"] == "T", r.RecursionAvailable);
            // Zeek gives a response to the FIRST query with its id; tshark (and we) to the latest one when the
            // repeat came after the 5 s retransmission window (frames 3 and 5 here). Zeek's rtt is therefore
            // measured from the earliest query with this id.
            long firstQuery = ours.Where(o => o.Id == r.Id && o.QueryTimestampNs is not null).Min(o => o.QueryTimestampNs!.Value);
            Assert.Equal(double.Parse(z["rtt"], CultureInfo.InvariantCulture), (r.ResponseTimestampNs!.Value - firstQuery) / 1e9, 6);
            // Zeek prints each TXT character-string as "TXT <length> <text>"; ours are quoted strings per record
            var texts = Regex.Split(z["answers"], @"(?:^| )TXT \d+ ").Where(s => s.Length > 0).ToList();
            var strings = r.Answers.SelectMany(a => Regex.Matches(a.Data, "\"((?:[^\"\\\\]|\\\\.)*)\"").Select(m => m.Groups[1].Value)).ToList();
            Assert.Equal(texts, strings);
        }
    }

    [Theory]
    [InlineData("tls12-rsa-rc4.pcap", "tls12-rsa-rc4.zeek-ssl.log")]
    [InlineData("tls13-wolfssl.pcap", "tls13-wolfssl.zeek-ssl.log")]
    [InlineData("tls12-handshake-failure-alert.pcap", "tls12-handshake-failure-alert.zeek-ssl.log")]
    public void TlsMatchesZeekSslLog(string capture, string log)
    {
        var row = Assert.Single(DnsTlsCorpus.Ingest(capture).Tls);
        var z = Assert.Single(ZeekLog(log));
        Assert.Equal(z["id.orig_h"], row.ClientIp);
        Assert.Equal(z["id.resp_p"], row.ServerPort.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(z["version"] == "-" ? null : z["version"], row.NegotiatedVersion is { } v ? TlsNames.VersionName(v).Replace(".", "") : null);
        Assert.Equal(z["cipher"] == "-" ? null : z["cipher"], row.ServerHello is { } sh ? TlsNames.CipherSuiteName(sh.CipherSuite) : null);
        Assert.Equal(z["server_name"] == "-" ? null : z["server_name"], row.ClientHello?.ServerName);
        // Zeek's "curve" is the TLS 1.3 key_share group (named as in RFC 8446 §4.2.7)
        if (row.ServerHello?.KeyShareGroup is { } group)
            Assert.Equal(z["curve"], group switch { 23 => "secp256r1", 24 => "secp384r1", 25 => "secp521r1", 29 => "x25519", 30 => "x448", _ => group.ToString(CultureInfo.InvariantCulture) });
        // last_alert: Zeek's snake_case name of the plaintext alert description
        if (z["last_alert"] != "-") Assert.Equal(z["last_alert"], row.Alert!.Split(' ', 2)[1].ToLowerInvariant().Replace(' ', '_'));
    }

    [Fact]
    public void TlsFingerprintsAndCertificateMatchArkime()
    {
        const string capture = "tls12-alpn-h2-loopback-v6.pcap";
        var row = Assert.Single(DnsTlsCorpus.Ingest(capture).Tls);
        var body = ArkimeSessions(capture)[0].GetProperty("body");
        var tls = body.GetProperty("tls");
        string ja3 = TlsFingerprints.Ja3String(row.ClientHello!);
        Assert.Equal(tls.GetProperty("ja3string")[0].GetString(), ja3);
        Assert.Equal(tls.GetProperty("ja3")[0].GetString(), TlsFingerprints.Ja3Hash(ja3));
        Assert.Equal(tls.GetProperty("ja4")[0].GetString(), TlsFingerprints.Ja4(row.ClientHello!));
        Assert.Equal(tls.GetProperty("cipher")[0].GetString(), TlsNames.CipherSuiteName(row.ServerHello!.CipherSuite));
        Assert.Equal(tls.GetProperty("version")[0].GetString(), TlsNames.VersionName(row.NegotiatedVersion!.Value));

        Assert.Equal(body.GetProperty("certCnt").GetInt32(), row.CertificateCount);
        // Arkime lists the chain's certificates; ours[0] is the leaf (the first of the chain, RFC 5246 §7.4.2)
        var leaf = body.GetProperty("cert").EnumerateArray().Single(c => c.TryGetProperty("alt", out _));
        var ourLeaf = row.Certificates[0];
        Assert.Equal(leaf.GetProperty("alt").EnumerateArray().Select(a => a.GetString()), ourLeaf.SubjectAlternativeNames);
        Assert.Equal(leaf.GetProperty("notBefore").GetInt64(), ourLeaf.NotBeforeNs / 1_000_000);
        Assert.Equal(leaf.GetProperty("notAfter").GetInt64(), ourLeaf.NotAfterNs / 1_000_000);
        Assert.Equal(leaf.GetProperty("serial").GetString(), ourLeaf.SerialNumber);
        Assert.Contains("CN=cloudflare.com", ourLeaf.Subject);
    }
}
