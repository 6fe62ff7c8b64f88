using System.Text;

namespace TrafficStore.Ingest.Tests.Protocols.Tls;

using TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>Builds TLS records and handshake messages (RFC 8446 §4, §5.1) for tests.</summary>
public static class TlsMessageBuilder
{
    public static readonly byte[] HelloRetryRequestRandom = Convert.FromHexString("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C");

    public static byte[] U16(int v) => new[] { (byte)(v >> 8), (byte)v };
    public static byte[] U24(int v) => new[] { (byte)(v >> 16), (byte)(v >> 8), (byte)v };
    public static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
    public static byte[] Vec8(byte[] body) => Cat(new[] { (byte)body.Length }, body);
    public static byte[] Vec16(byte[] body) => Cat(U16(body.Length), body);
    public static byte[] Vec24(byte[] body) => Cat(U24(body.Length), body);
    public static byte[] U16s(IEnumerable<int> values) => values.SelectMany(U16).ToArray();

    public static byte[] Record(byte type, byte[] fragment, int version = 0x0303) => Cat(new[] { type }, U16(version), U16(fragment.Length), fragment);
    public static byte[] Handshake(byte type, byte[] body) => Cat(new[] { type }, U24(body.Length), body);

    public static byte[] Extension(int type, byte[] data) => Cat(U16(type), Vec16(data));

    public static byte[] Sni(string host) => Extension(0, Vec16(Cat(new byte[] { 0 }, Vec16(Encoding.ASCII.GetBytes(host)))));
    public static byte[] Alpn(params string[] ids) => Extension(16, Vec16(ids.SelectMany(i => Vec8(Encoding.ASCII.GetBytes(i))).ToArray()));
    public static byte[] Groups(params int[] g) => Extension(10, Vec16(U16s(g)));
    public static byte[] PointFormats(params byte[] f) => Extension(11, Vec8(f));
    public static byte[] SignatureAlgorithms(params int[] s) => Extension(13, Vec16(U16s(s)));
    public static byte[] SupportedVersions(params int[] v) => Extension(43, Vec8(U16s(v)));
    public static byte[] KeyShare(params int[] groups) => Extension(51, Vec16(groups.SelectMany(g => Cat(U16(g), Vec16(new byte[32]))).ToArray()));
    public static byte[] Empty(int type) => Extension(type, Array.Empty<byte>());

    public static byte[] ClientHelloBody(int version, IEnumerable<int> ciphers, params byte[][] extensions) =>
        Cat(U16(version), new byte[32], Vec8(new byte[32]), Vec16(U16s(ciphers)), Vec8(new byte[] { 0 }), Vec16(Cat(extensions)));

    public static byte[] ClientHello(int version, IEnumerable<int> ciphers, params byte[][] extensions) =>
        Handshake(1, ClientHelloBody(version, ciphers, extensions));

    public static byte[] ServerHello(int version, int cipher, bool hrr = false, params byte[][] extensions) =>
        Handshake(2, Cat(U16(version), hrr ? HelloRetryRequestRandom : Enumerable.Repeat((byte)0x42, 32).ToArray(), Vec8(new byte[32]), U16(cipher), new byte[] { 0 },
            extensions.Length == 0 ? Array.Empty<byte>() : Vec16(Cat(extensions))));

    public static byte[] ServerSupportedVersion(int v) => Extension(43, U16(v));
    public static byte[] ServerAlpn(string id) => Alpn(id);

    public static byte[] Certificate(params byte[][] ders) => Handshake(11, Vec24(ders.SelectMany(Vec24).ToArray()));
}
