using System.Globalization;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>Names as tshark (and the oracle) print them: versions, cipher suites, alerts.</summary>
public static class TlsNames
{
    /// <summary>"0x0303" style, lowercase, 4 digits.</summary>
    public static string Hex4(int value) => "0x" + value.ToString("x4", CultureInfo.InvariantCulture);

    /// <summary>SSLv2, SSLv3, TLSv1.0 … TLSv1.3, TLSv1.3-draftNN for 0x7fNN; else the hex value.</summary>
    public static string VersionName(int version) => version switch
    {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1.0",
        0x0302 => "TLSv1.1",
        0x0303 => "TLSv1.2",
        0x0304 => "TLSv1.3",
        >= 0x7f00 and <= 0x7fff => "TLSv1.3-draft" + (version & 0xff).ToString(CultureInfo.InvariantCulture),
        _ => Hex4(version),
    };

    /// <summary>TLS 1.3 or one of its drafts (0x7fXX, draft-ietf-tls-tls13 §4.2.1).</summary>
    public static bool IsTls13(int version) => version == 0x0304 || (version >> 8) == 0x7f;

    /// <summary>GREASE values (RFC 8701 §2): 0x?A?A with both bytes equal.</summary>
    public static bool IsGrease(int value) => (value & 0x0f0f) == 0x0a0a && (value >> 8) == (value & 0xff);

    public static string? CipherSuiteName(int code) => TlsCipherSuiteNames.Get((ushort)code);

    /// <summary>Alert descriptions as tshark names them (tls.alert_message.desc value strings).</summary>
    public static string? AlertName(int description) => description switch
    {
        0 => "Close Notify", 1 => "End of Early Data", 10 => "Unexpected Message", 20 => "Bad Record MAC",
        21 => "Decryption Failed", 22 => "Record Overflow", 30 => "Decompression Failure", 40 => "Handshake Failure",
        41 => "No Certificate", 42 => "Bad Certificate", 43 => "Unsupported Certificate", 44 => "Certificate Revoked",
        45 => "Certificate Expired", 46 => "Certificate Unknown", 47 => "Illegal Parameter", 48 => "Unknown CA",
        49 => "Access Denied", 50 => "Decode Error", 51 => "Decrypt Error", 60 => "Export Restriction",
        70 => "Protocol Version", 71 => "Insufficient Security", 80 => "Internal Error", 86 => "Inappropriate Fallback",
        90 => "User Canceled", 100 => "No Renegotiation", 109 => "Missing Extension", 110 => "Unsupported Extension",
        111 => "Certificate Unobtainable", 112 => "Unrecognized Name", 113 => "Bad Certificate Status Response",
        114 => "Bad Certificate Hash Value", 115 => "Unknown PSK Identity", 116 => "Certificate Required",
        120 => "No application Protocol", 121 => "ECH Required",
        _ => null,
    };

    /// <summary>"2:40 Handshake Failure" (level:description name), as the oracle's alert column.</summary>
    public static string AlertText(int level, int description) =>
        AlertName(description) is { } n
            ? string.Create(CultureInfo.InvariantCulture, $"{level}:{description} {n}")
            : string.Create(CultureInfo.InvariantCulture, $"{level}:{description}");
}
