using System.Globalization;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>
/// The tls table: the tshark oracle's tls columns first (same names, order, formats), then
/// TrafficStore's own. One row per connection, ordered by stream.
/// </summary>
public static class TlsTable
{
    public static readonly TableDefinition<TlsHandshake> Definition = new("tls", 1, new[]
    {
        Column<TlsHandshake>.Int64("stream", x => x.ConnectionId, "connection id (tshark tcp.stream)"),
        Column<TlsHandshake>.String("client_ip", x => x.ClientIp, "ClientHello sender"),
        Column<TlsHandshake>.Int64("client_port", x => x.ClientPort, "client port"),
        Column<TlsHandshake>.String("server_ip", x => x.ServerIp, "server address"),
        Column<TlsHandshake>.Int64("server_port", x => x.ServerPort, "server port"),
        Column<TlsHandshake>.Int64("client_hellos", x => x.ClientHellos, "ClientHello messages"),
        Column<TlsHandshake>.Int64("server_hellos", x => x.ServerHellos, "ServerHello messages (a HelloRetryRequest counts)"),
        Column<TlsHandshake>.Timestamp("ch_ts", x => x.ClientHelloTimestampNs, "time of the segment completing the first ClientHello"),
        Column<TlsHandshake>.String("sni", x => x.ClientHello?.ServerName, "server_name (host_name) of the first ClientHello"),
        Column<TlsHandshake>.String("ch_version", x => Hex(x.ClientHello?.Version), "ClientHello legacy_version, 0x0303 style"),
        Column<TlsHandshake>.String("ch_max_version", x => Hex(x.ClientHello?.MaxVersion), "highest non-GREASE supported_versions entry, else ch_version"),
        Column<TlsHandshake>.String("alpn_offered", x => x.ClientHello is { Alpn.Count: > 0 } c ? string.Join('|', c.Alpn) : null, "ALPN protocols offered, |-joined"),
        Column<TlsHandshake>.Timestamp("sh_ts", x => x.LastServerHelloTimestampNs, "time of the last ServerHello"),
        Column<TlsHandshake>.String("sh_version", x => Hex(x.ServerHello?.Version), "last ServerHello legacy_version"),
        Column<TlsHandshake>.String("version", x => Hex(x.NegotiatedVersion), "negotiated version: supported_versions if present, else sh_version"),
        Column<TlsHandshake>.String("version_name", x => x.NegotiatedVersion is { } v ? TlsNames.VersionName(v) : null, "TLSv1.2, TLSv1.3, TLSv1.3-draft23 ..."),
        Column<TlsHandshake>.String("cipher", x => Hex(x.ServerHello?.CipherSuite), "chosen cipher suite, hex"),
        Column<TlsHandshake>.String("cipher_name", x => x.ServerHello is { } s ? TlsNames.CipherSuiteName(s.CipherSuite) : null, "cipher suite name as tshark prints it"),
        Column<TlsHandshake>.String("alpn_selected", x => x.ServerHello?.Alpn, "ALPN protocol the server chose"),
        Column<TlsHandshake>.Int64("hrr", x => x.HelloRetryRequest ? 1 : 0, "1 if a HelloRetryRequest was seen"),
        Column<TlsHandshake>.String("alert", x => x.Alert, "first alert: 'level:code Name', or 'encrypted'"),
        Column<TlsHandshake>.String("alert_dir", x => x.AlertDirection, "c2s or s2c, relative to the ClientHello's sender"),
        Column<TlsHandshake>.Duration("hello_delay", x => x.HelloDelayNs, "first ServerHello time - first ClientHello time"),
        // ---- TrafficStore columns
        Column<TlsHandshake>.Int64("ch_frame", x => x.ClientHelloFrame, "frame completing the first ClientHello"),
        Column<TlsHandshake>.String("ch_record_version", x => Hex(x.ClientHelloRecordVersion), "record-layer version of the first ClientHello's record"),
        Column<TlsHandshake>.String("ja3", x => x.ClientHello is { } c ? TlsFingerprints.Ja3String(c) : null, "JA3 string"),
        Column<TlsHandshake>.String("ja3_hash", x => x.ClientHello is { } c ? TlsFingerprints.Ja3Hash(TlsFingerprints.Ja3String(c)) : null, "JA3 MD5"),
        Column<TlsHandshake>.String("ja4", x => x.ClientHello is { } c ? TlsFingerprints.Ja4(c) : null, "JA4 fingerprint"),
        Column<TlsHandshake>.Int64("ciphers_offered", x => x.ClientHello?.CipherSuites.Count, "cipher suites in the ClientHello (GREASE included)"),
        Column<TlsHandshake>.String("extensions", x => List(x.ClientHello?.Extensions), "ClientHello extension types, decimal, |-joined in order"),
        Column<TlsHandshake>.String("groups", x => List(x.ClientHello?.SupportedGroups), "supported_groups offered, decimal, |-joined"),
        Column<TlsHandshake>.String("key_share_groups", x => List(x.ClientHello?.KeyShareGroups), "key_share groups offered, decimal, |-joined"),
        Column<TlsHandshake>.String("signature_algorithms", x => x.ClientHello is { SignatureAlgorithms.Count: > 0 } c ? string.Join('|', c.SignatureAlgorithms.Select(v => Hex(v))) : null, "signature_algorithms offered, hex, |-joined"),
        Column<TlsHandshake>.String("supported_versions", x => x.ClientHello is { SupportedVersions.Count: > 0 } c ? string.Join('|', c.SupportedVersions.Select(v => Hex(v))) : null, "supported_versions offered, hex, |-joined"),
        Column<TlsHandshake>.Boolean("sslv2_hello", x => x.ClientHello?.IsSsl2, "the ClientHello used the SSL 2.0 compatible format"),
        Column<TlsHandshake>.Int64("server_key_share_group", x => x.ServerHello?.KeyShareGroup, "group of the server's key_share (TLS 1.3)"),
        Column<TlsHandshake>.Int64("certificates", x => x.CertificateCount, "certificates in the server's chain (cleartext, TLS <= 1.2)"),
        Column<TlsHandshake>.String("cert_subject", x => x.Certificates.FirstOrDefault()?.Subject, "leaf certificate subject"),
        Column<TlsHandshake>.String("cert_issuer", x => x.Certificates.FirstOrDefault()?.Issuer, "leaf certificate issuer"),
        Column<TlsHandshake>.String("cert_sans", x => x.Certificates.FirstOrDefault() is { SubjectAlternativeNames.Count: > 0 } c ? string.Join('|', c.SubjectAlternativeNames) : null, "leaf subjectAltName DNS names and IPs, |-joined"),
        Column<TlsHandshake>.Timestamp("cert_not_before", x => x.Certificates.FirstOrDefault()?.NotBeforeNs, "leaf notBefore"),
        Column<TlsHandshake>.Timestamp("cert_not_after", x => x.Certificates.FirstOrDefault()?.NotAfterNs, "leaf notAfter"),
        Column<TlsHandshake>.String("cert_serial", x => x.Certificates.FirstOrDefault()?.SerialNumber, "leaf serial number, hex"),
        Column<TlsHandshake>.Int64("alerts", x => x.Alerts, "alert records seen (both directions)"),
        Column<TlsHandshake>.Timestamp("first_app_data_ts", x => x.FirstApplicationDataTimestampNs, "first application data record (TLS 1.3: client's first after its Finished)"),
        Column<TlsHandshake>.Duration("app_data_delay", x => x.FirstApplicationDataTimestampNs is { } a && x.ClientHelloTimestampNs is { } c ? a - c : null, "first_app_data_ts - ch_ts"),
        Column<TlsHandshake>.String("anomalies", x => x.Anomalies.Count == 0 ? null : string.Join('|', x.Anomalies), "parser anomalies, |-joined"),
    });

    /// <summary>The table's row order: by connection (rows reach sinks when their connection ends).</summary>
    public static IEnumerable<TlsHandshake> InTableOrder(IEnumerable<TlsHandshake> rows) => rows.OrderBy(r => r.ConnectionId);

    private static string? Hex(int? v) => v is { } x ? TlsNames.Hex4(x) : null;

    private static string? List(List<int>? values) => values is { Count: > 0 } ? string.Join('|', values.Select(v => v.ToString(CultureInfo.InvariantCulture))) : null;
}
