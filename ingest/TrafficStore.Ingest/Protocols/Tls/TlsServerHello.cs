namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>What a ServerHello (or HelloRetryRequest) chose (RFC 8446 §4.1.3).</summary>
public sealed class TlsServerHello
{
    /// <summary>SHA-256("HelloRetryRequest"): the Random of a HelloRetryRequest (RFC 8446 §4.1.3).</summary>
    private static ReadOnlySpan<byte> HelloRetryRequestRandom =>
    [
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
        0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
    ];

    public int Version { get; init; }
    public int CipherSuite { get; init; }
    public bool IsHelloRetryRequest { get; init; }
    /// <summary>supported_versions selected_version, when present.</summary>
    public int? SelectedVersion { get; set; }
    public string? Alpn { get; set; }
    public int? KeyShareGroup { get; set; }
    public List<int> Extensions { get; } = new();

    /// <summary>The negotiated version: supported_versions if present, else legacy_version.</summary>
    public int NegotiatedVersion => SelectedVersion ?? Version;

    public static TlsServerHello? Parse(ReadOnlySpan<byte> body, out bool bad)
    {
        // struct {
        //     ProtocolVersion legacy_version;            2
        //     Random random;                             32
        //     opaque legacy_session_id_echo<0..32>;      1 + n  (absent in TLS 1.3 drafts < 22 with version 0x7fXX)
        //     CipherSuite cipher_suite;                  2
        //     uint8 legacy_compression_method;           1      (absent in those drafts too)
        //     Extension extensions<6..2^16-1>;
        // } ServerHello;
        bad = false;
        var r = new SpanReader(body);
        if (!r.U16(out int version) || !r.Slice(32, out var random)) { bad = true; return null; }
        bool draftLayout = (version >> 8) == 0x7f && (version & 0xff) < 22;
        int cipher;
        if (draftLayout)
        {
            if (!r.U16(out cipher)) { bad = true; return null; }
        }
        else if (!r.U8(out int sidLen) || !r.Skip(sidLen) || !r.U16(out cipher) || !r.Skip(1))
        {
            bad = true;
            return null;
        }
        var hello = new TlsServerHello
        {
            Version = version,
            CipherSuite = cipher,
            IsHelloRetryRequest = random.SequenceEqual(HelloRetryRequestRandom),
        };
        if (r.Remaining == 0) return hello;
        if (!r.U16(out int extLen) || !r.Slice(extLen, out var exts)) { bad = true; return hello; }
        var e = new SpanReader(exts);
        while (e.Remaining > 0)
        {
            if (!e.U16(out int type) || !e.U16(out int len) || !e.Slice(len, out var data)) { bad = true; break; }
            hello.Extensions.Add(type);
            var d = new SpanReader(data);
            switch (type)
            {
                case 43 when d.U16(out int selected): hello.SelectedVersion = selected; break;
                case 16 when d.U16(out _) && d.U8(out int idLen) && d.Slice(idLen, out var id): hello.Alpn = System.Text.Encoding.ASCII.GetString(id); break;
                case 51 when d.U16(out int group): hello.KeyShareGroup = group; break;
            }
        }
        return hello;
    }
}
