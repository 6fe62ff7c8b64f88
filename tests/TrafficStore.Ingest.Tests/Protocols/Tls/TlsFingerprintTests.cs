using TrafficStore.Ingest.Protocols.Tls;
using static TrafficStore.Ingest.Tests.Protocols.Tls.TlsMessageBuilder;

namespace TrafficStore.Ingest.Tests.Protocols.Tls;

using TrafficStore.Ingest.Tests.Protocols.Dns;

public class TlsFingerprintTests
{
    private static TlsClientHello Parse(byte[] handshake)
    {
        var hello = TlsClientHello.Parse(handshake.AsSpan(4), out bool bad);
        Assert.False(bad);
        return hello!;
    }

    /// <summary>The two examples of the salesforce/ja3 README, rebuilt as ClientHellos.</summary>
    [Fact]
    public void Ja3ReadmeExamples()
    {
        var withExtensions = Parse(ClientHello(769, new[] { 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4 },
            Sni("example.com"), Groups(23, 24, 25), PointFormats(0)));
        string ja3 = TlsFingerprints.Ja3String(withExtensions);
        Assert.Equal("769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0", ja3);
        Assert.Equal("ada70206e40642a3e4461f35503241d5", TlsFingerprints.Ja3Hash(ja3));

        // no extension block at all (RFC 5246 §7.4.1.2 allows it)
        var bare = Parse(Handshake(1, Cat(U16(769), new byte[32], Vec8(Array.Empty<byte>()),
            Vec16(U16s(new[] { 4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99 })), Vec8(new byte[] { 0 }))));
        string bareJa3 = TlsFingerprints.Ja3String(bare);
        Assert.Equal("769,4-5-10-9-100-98-3-6-19-18-99,,,", bareJa3);
        Assert.Equal("de350869b8c85de67a350c8d186f11e6", TlsFingerprints.Ja3Hash(bareJa3));
    }

    /// <summary>
    /// The worked example of FoxIO-LLC/ja4 technical_details/JA4.md ("JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1"),
    /// with GREASE values added to ciphers, extensions and versions, which JA4 must ignore.
    /// </summary>
    [Fact]
    public void Ja4SpecificationExample()
    {
        int[] ciphers = { 0x1a1a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035 };
        var hello = Parse(ClientHello(0x0303, ciphers,
            Empty(0x2a2a),
            Empty(0x001b), Sni("example.com"), KeyShare(0x001d), Alpn("h2", "http/1.1"), Empty(0x4469), Empty(0x0017), Empty(0x002d),
            SignatureAlgorithms(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
            Empty(0x0005), Empty(0x0023), Empty(0x0012), SupportedVersions(0x3a3a, 0x0304, 0x0303), Empty(0xff01),
            PointFormats(0), Groups(0x001d, 0x0017), Empty(0x0015)));
        Assert.Equal("t13d1516h2_8daaf6152771_e5627efa2ab1", TlsFingerprints.Ja4(hello));
        Assert.Equal(0x0304, hello.MaxVersion);
        Assert.DoesNotContain("6682", TlsFingerprints.Ja3String(hello)); // 0x1a1a GREASE cipher is not in JA3
    }

    /// <summary>
    /// A Chrome 143 ClientHello as published by browserleaks (ja3_text, ja3_hash, ja4 and ja4_r,
    /// found in service0427/v2_cp_app tls.md): rebuilt from its ja3_text order and ja4_r signature algorithms.
    /// </summary>
    [Fact]
    public void Ja3AndJa4OfAPublishedChromeHello()
    {
        int[] ciphers = { 4865, 4866, 4867, 49195, 49199, 49196, 49200, 52393, 52392, 49171, 49172, 156, 157, 47, 53 };
        var ext = new Dictionary<int, byte[]>
        {
            [0] = Sni("tls.browserleaks.com"), [16] = Alpn("h2", "http/1.1"), [10] = Groups(4588, 29, 23, 24), [11] = PointFormats(0),
            [13] = SignatureAlgorithms(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
            [43] = SupportedVersions(0x0304, 0x0303), [51] = KeyShare(4588, 29),
        };
        int[] order = { 45, 51, 16, 65037, 23, 17613, 0, 11, 10, 43, 65281, 35, 18, 5, 13, 27 };
        var hello = Parse(ClientHello(0x0303, ciphers, order.Select(t => ext.TryGetValue(t, out var e) ? e : Empty(t)).ToArray()));

        string ja3 = TlsFingerprints.Ja3String(hello);
        Assert.Equal("771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0", ja3);
        Assert.Equal("98487aa16281980e7d1120d399efb6a4", TlsFingerprints.Ja3Hash(ja3));
        Assert.Equal("t13d1516h2_8daaf6152771_d8a2da3f94cd", TlsFingerprints.Ja4(hello));
    }

    [Theory]
    [InlineData(new byte[] { 0xab }, "ab")]
    [InlineData(new byte[] { 0xab, 0xcd }, "ad")]
    [InlineData(new byte[] { 0x30, 0xab }, "3b")]
    [InlineData(new byte[] { 0x30, 0x31, 0xab, 0xcd }, "3d")]
    [InlineData(new byte[] { 0x30, 0xab, 0xcd, 0x31 }, "01")]
    public void Ja4AlpnNonAlphanumericExamplesOfTheSpecification(byte[] alpn, string expected)
    {
        var ext = Extension(16, Vec16(Vec8(alpn)));
        var hello = Parse(ClientHello(0x0303, new[] { 0x002f }, ext));
        Assert.Equal(expected, TlsFingerprints.Ja4(hello).Substring(8, 2));
    }

    [Fact]
    public void Ja4WithoutExtensionsOrCiphersUsesZeros()
    {
        var hello = Parse(Handshake(1, Cat(U16(0x0301), new byte[32], Vec8(Array.Empty<byte>()), Vec16(Array.Empty<byte>()), Vec8(new byte[] { 0 }))));
        Assert.Equal("t10i000000_000000000000_000000000000", TlsFingerprints.Ja4(hello));
    }

    [Theory]
    [InlineData(0x0303, "TLSv1.2")]
    [InlineData(0x0304, "TLSv1.3")]
    [InlineData(0x7f17, "TLSv1.3-draft23")]
    [InlineData(0x0300, "SSLv3")]
    public void VersionNamesFollowTheOracle(int version, string name) => Assert.Equal(name, TlsNames.VersionName(version));

    [Fact]
    public void CipherAndAlertNamesAreTsharks()
    {
        Assert.Equal("TLS_RSA_WITH_RC4_128_MD5", TlsNames.CipherSuiteName(0x0004));
        Assert.Equal("TLS_AES_256_GCM_SHA384", TlsNames.CipherSuiteName(0x1302));
        Assert.Equal("2:40 Handshake Failure", TlsNames.AlertText(2, 40));
    }
}
