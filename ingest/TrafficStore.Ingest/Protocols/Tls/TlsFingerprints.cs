using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>
/// Client fingerprints of a ClientHello.
/// JA3 (salesforce/ja3): "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats",
/// decimal values joined with "-", GREASE (RFC 8701) removed; the hash is its MD5.
/// JA4 (FoxIO-LLC/ja4 technical_details/JA4.md): a_b_c where a = t + version + d/i + cipher
/// count + extension count + ALPN first/last char; b = first 12 hex of SHA-256 of the sorted
/// cipher list; c = same of the sorted extensions without SNI/ALPN, "_", signature algorithms in order.
/// </summary>
public static class TlsFingerprints
{
    public static string Ja3String(TlsClientHello hello)
    {
        static string Join(IEnumerable<int> values) => string.Join('-', values.Where(v => !TlsNames.IsGrease(v)).Select(v => v.ToString(CultureInfo.InvariantCulture)));
        return string.Join(',',
            hello.Version.ToString(CultureInfo.InvariantCulture),
            Join(hello.CipherSuites),
            Join(hello.Extensions),
            Join(hello.SupportedGroups),
            string.Join('-', hello.EcPointFormats.Select(v => v.ToString(CultureInfo.InvariantCulture))));
    }

    public static string Ja3Hash(string ja3String) => Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(ja3String)));

    public static string Ja4(TlsClientHello hello)
    {
        var ciphers = hello.CipherSuites.Where(v => !TlsNames.IsGrease(v)).ToList();
        var extensions = hello.Extensions.Where(v => !TlsNames.IsGrease(v)).ToList();
        var a = new StringBuilder();
        a.Append('t');
        a.Append(Ja4Version(hello.SupportedVersions.Any(v => !TlsNames.IsGrease(v)) ? hello.MaxVersion : hello.Version));
        a.Append(hello.Extensions.Contains(0) ? 'd' : 'i');
        a.Append(Math.Min(ciphers.Count, 99).ToString("D2", CultureInfo.InvariantCulture));
        a.Append(Math.Min(extensions.Count, 99).ToString("D2", CultureInfo.InvariantCulture));
        a.Append(Ja4Alpn(hello.FirstAlpnBytes));

        string b = ciphers.Count == 0 ? "000000000000" : Sha256Prefix(string.Join(',', ciphers.Order().Select(Hex)));
        var sortedExtensions = extensions.Where(v => v != 0x0000 && v != 0x0010).Order().Select(Hex).ToList();
        string c;
        if (sortedExtensions.Count == 0) c = "000000000000";
        else
        {
            string text = string.Join(',', sortedExtensions);
            if (hello.SignatureAlgorithms.Count > 0) text += "_" + string.Join(',', hello.SignatureAlgorithms.Select(Hex));
            c = Sha256Prefix(text);
        }
        return $"{a}_{b}_{c}";
    }

    private static string Ja4Version(int version) => version switch
    {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };

    private static string Ja4Alpn(byte[]? first)
    {
        if (first is null || first.Length == 0) return "00";
        static bool AlphaNumeric(byte b) => b is >= 0x30 and <= 0x39 or >= 0x41 and <= 0x5A or >= 0x61 and <= 0x7A;
        byte f = first[0], l = first[^1];
        if (AlphaNumeric(f) && AlphaNumeric(l)) return $"{(char)f}{(char)l}";
        string hex = Convert.ToHexStringLower(first);
        return $"{hex[0]}{hex[^1]}";
    }

    private static string Hex(int v) => v.ToString("x4", CultureInfo.InvariantCulture);

    private static string Sha256Prefix(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(text)))[..12];
}
