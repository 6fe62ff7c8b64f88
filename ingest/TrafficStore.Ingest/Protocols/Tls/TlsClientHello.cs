using System.Buffers.Binary;
using System.Text;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>What a ClientHello offers (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2), values in wire order, GREASE kept.</summary>
public sealed class TlsClientHello
{
    /// <summary>legacy_version (client_version before TLS 1.3).</summary>
    public int Version { get; init; }
    public List<int> CipherSuites { get; } = new();
    public List<int> Extensions { get; } = new();
    public string? ServerName { get; set; }
    public List<string> Alpn { get; } = new();
    /// <summary>Raw bytes of the first ALPN protocol id (JA4 needs them when they are not alphanumeric).</summary>
    public byte[]? FirstAlpnBytes { get; set; }
    public List<int> SupportedVersions { get; } = new();
    public List<int> SupportedGroups { get; } = new();
    public List<int> EcPointFormats { get; } = new();
    public List<int> SignatureAlgorithms { get; } = new();
    public List<int> KeyShareGroups { get; } = new();
    /// <summary>True for an SSL 2.0-compatible CLIENT-HELLO (RFC 6101 Appendix E.2 / RFC 5246 Appendix E.2).</summary>
    public bool IsSsl2 { get; init; }

    /// <summary>Highest non-GREASE supported_versions entry, else <see cref="Version"/>.</summary>
    public int MaxVersion
    {
        get
        {
            int max = -1;
            foreach (var v in SupportedVersions) if (!TlsNames.IsGrease(v) && v > max) max = v;
            return max >= 0 ? max : Version;
        }
    }

    /// <summary>
    /// Parses a ClientHello body (after the 4-byte handshake header). Returns null if the fixed
    /// part is short; a broken extension block keeps what was read and sets <paramref name="bad"/>.
    /// </summary>
    public static TlsClientHello? Parse(ReadOnlySpan<byte> body, out bool bad)
    {
        // struct {
        //     ProtocolVersion legacy_version;               2
        //     Random random;                                32
        //     opaque legacy_session_id<0..32>;              1 + n
        //     CipherSuite cipher_suites<2..2^16-2>;         2 + n
        //     opaque legacy_compression_methods<1..2^8-1>;  1 + n
        //     Extension extensions<8..2^16-1>;              2 + n (absent in old clients)
        // } ClientHello;
        bad = false;
        var r = new SpanReader(body);
        if (!r.U16(out int version) || !r.Skip(32) || !r.U8(out int sidLen) || !r.Skip(sidLen) || !r.U16(out int csLen) || !r.Slice(csLen, out var cs))
        {
            bad = true;
            return null;
        }
        var hello = new TlsClientHello { Version = version };
        for (int i = 0; i + 1 < cs.Length; i += 2) hello.CipherSuites.Add(BinaryPrimitives.ReadUInt16BigEndian(cs[i..]));
        if (!r.U8(out int compLen) || !r.Skip(compLen)) { bad = true; return hello; }
        if (r.Remaining == 0) return hello;
        if (!r.U16(out int extLen) || !r.Slice(extLen, out var exts)) { bad = true; return hello; }
        var e = new SpanReader(exts);
        while (e.Remaining > 0)
        {
            if (!e.U16(out int type) || !e.U16(out int len) || !e.Slice(len, out var data)) { bad = true; break; }
            hello.Extensions.Add(type);
            if (!hello.ParseExtension(type, data)) bad = true;
        }
        return hello;
    }

    private bool ParseExtension(int type, ReadOnlySpan<byte> data)
    {
        var r = new SpanReader(data);
        switch (type)
        {
            case 0: // server_name, RFC 6066 §3
                if (!r.U16(out int listLen) || !r.Slice(listLen, out var list)) return false;
                var l = new SpanReader(list);
                while (l.Remaining > 0)
                {
                    if (!l.U8(out int nameType) || !l.U16(out int nameLen) || !l.Slice(nameLen, out var name)) return false;
                    if (nameType == 0 && ServerName is null) ServerName = Encoding.ASCII.GetString(name);
                }
                return true;
            case 16: // ALPN, RFC 7301 §3.1
                if (!r.U16(out int alpnLen) || !r.Slice(alpnLen, out var protocols)) return false;
                var p = new SpanReader(protocols);
                while (p.Remaining > 0)
                {
                    if (!p.U8(out int len) || !p.Slice(len, out var id)) return false;
                    FirstAlpnBytes ??= id.ToArray();
                    Alpn.Add(Encoding.ASCII.GetString(id));
                }
                return true;
            case 10: // supported_groups, RFC 8446 §4.2.7
                return r.U16List(SupportedGroups, 2);
            case 11: // ec_point_formats, RFC 8422 §5.1.2
                if (!r.U8(out int fmtLen) || !r.Slice(fmtLen, out var fmts)) return false;
                foreach (var f in fmts) EcPointFormats.Add(f);
                return true;
            case 13: // signature_algorithms, RFC 8446 §4.2.3
                return r.U16List(SignatureAlgorithms, 2);
            case 43: // supported_versions (ClientHello form), RFC 8446 §4.2.1
                return r.U16List(SupportedVersions, 1);
            case 51: // key_share (ClientHello form), RFC 8446 §4.2.8
                if (!r.U16(out int ksLen) || !r.Slice(ksLen, out var shares)) return false;
                var s = new SpanReader(shares);
                while (s.Remaining > 0)
                {
                    if (!s.U16(out int group) || !s.U16(out int keyLen) || !s.Skip(keyLen)) return false;
                    KeyShareGroups.Add(group);
                }
                return true;
            default:
                return true;
        }
    }

    /// <summary>
    /// SSL 2.0 CLIENT-HELLO body (after the 2-byte record header):
    /// msg_type(1)=1, version(2), cipher_specs_length(2), session_id_length(2), challenge_length(2),
    /// cipher_specs (3 bytes each), session_id, challenge. Specs 0x00XXYY are TLS suite 0xXXYY.
    /// </summary>
    public static TlsClientHello? ParseSsl2(ReadOnlySpan<byte> body, out bool bad)
    {
        bad = false;
        var r = new SpanReader(body);
        if (!r.U8(out int type) || type != 1 || !r.U16(out int version) || !r.U16(out int specLen) || !r.U16(out int sidLen)
            || !r.U16(out int challengeLen) || !r.Slice(specLen, out var specs))
        {
            bad = true;
            return null;
        }
        var hello = new TlsClientHello { Version = version, IsSsl2 = true };
        for (int i = 0; i + 3 <= specs.Length; i += 3)
        {
            if (specs[i] == 0) hello.CipherSuites.Add(BinaryPrimitives.ReadUInt16BigEndian(specs[(i + 1)..]));
        }
        if (!r.Skip(sidLen) || !r.Skip(challengeLen)) bad = true;
        return hello;
    }
}
