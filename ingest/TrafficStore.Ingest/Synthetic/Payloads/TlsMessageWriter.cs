namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>
/// Writes TLS records and the plaintext handshake messages (RFC 8446 sections 4 and 5.1, RFC 5246
/// section 7.4). Everything after the keys would be in use is opaque random bytes of a realistic
/// size, as a passive observer would see it.
/// <code>
/// TLSPlaintext: ContentType type (1) | ProtocolVersion legacy_record_version (2) | uint16 length | fragment
/// Handshake:    HandshakeType msg_type (1) | uint24 length | body
/// </code>
/// </summary>
internal static class TlsMessageWriter
{
    public const byte ChangeCipherSpec = 20, Alert = 21, Handshake = 22, ApplicationData = 23;
    public const int Tls12 = 0x0303, Tls13 = 0x0304;

    /// <summary>RFC 8701: GREASE values 0x0A0A, 0x1A1A ... 0xFAFA.</summary>
    public static int Grease(Random rng) => 0x0A0A + 0x1010 * rng.Next(16);

    private static readonly int[] CipherSuites =
    {
        0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
    };

    /// <summary>A Chrome-like ClientHello offering TLS 1.3 and 1.2, in one record.</summary>
    public static byte[] ClientHello(Random rng, string serverName, string[] alpn, bool offerTls13 = true)
    {
        var w = new ByteWriter(600);
        int grease = Grease(rng);
        int greaseExtension = grease ^ 0x1010; // a second, different GREASE value
        int record = BeginRecord(w, Handshake, 0x0301);
        int body = BeginHandshake(w, 1);
        w.U16(Tls12);                       // legacy_version
        w.Random(rng, 32);                  // random
        w.U8(32); w.Random(rng, 32);        // legacy_session_id
        int suites = w.ReserveLength(2);
        w.U16(grease);
        foreach (int suite in CipherSuites) w.U16(suite);
        w.PatchLength(suites, 2);
        w.U8(1); w.U8(0);                   // legacy_compression_methods: null

        int extensions = w.ReserveLength(2);
        Extension(w, grease, _ => { });
        Extension(w, 0, x =>                // server_name (RFC 6066 section 3)
        {
            int list = x.ReserveLength(2);
            x.U8(0);
            x.U16(serverName.Length);
            x.Ascii(serverName);
            x.PatchLength(list, 2);
        });
        Extension(w, 23, _ => { });         // extended_master_secret
        Extension(w, 0xFF01, x => x.U8(0)); // renegotiation_info
        Extension(w, 10, x =>               // supported_groups: GREASE, x25519, secp256r1, secp384r1
        {
            x.U16(8); x.U16(grease); x.U16(0x001D); x.U16(0x0017); x.U16(0x0018);
        });
        Extension(w, 11, x => { x.U8(1); x.U8(0); }); // ec_point_formats: uncompressed
        Extension(w, 35, _ => { });         // session_ticket
        Extension(w, 16, x =>               // application_layer_protocol_negotiation (RFC 7301)
        {
            int list = x.ReserveLength(2);
            foreach (string p in alpn) { x.U8(p.Length); x.Ascii(p); }
            x.PatchLength(list, 2);
        });
        Extension(w, 5, x => { x.U8(1); x.U16(0); x.U16(0); }); // status_request (OCSP)
        Extension(w, 13, x =>               // signature_algorithms
        {
            int[] algorithms = { 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601 };
            x.U16(algorithms.Length * 2);
            foreach (int a in algorithms) x.U16(a);
        });
        Extension(w, 18, _ => { });         // signed_certificate_timestamp
        if (offerTls13)
        {
            Extension(w, 51, x =>           // key_share (RFC 8446 4.2.8): GREASE share, x25519 share
            {
                int shares = x.ReserveLength(2);
                x.U16(grease); x.U16(1); x.U8(0);
                x.U16(0x001D); x.U16(32); x.Random(rng, 32);
                x.PatchLength(shares, 2);
            });
            Extension(w, 45, x => { x.U8(1); x.U8(1); }); // psk_key_exchange_modes: psk_dhe_ke
        }
        Extension(w, 43, x =>               // supported_versions (RFC 8446 4.2.1)
        {
            int list = x.ReserveLength(1);
            x.U16(grease);
            if (offerTls13) x.U16(Tls13);
            x.U16(Tls12);
            x.PatchLength(list, 1);
        });
        Extension(w, greaseExtension, x => x.U8(0));
        w.PatchLength(extensions, 2);
        w.PatchLength(body, 3);
        w.PatchLength(record, 2);
        return w.ToArray();
    }

    /// <summary>
    /// A TLS 1.3 ServerHello (legacy_version 1.2, real version in supported_versions), the
    /// middlebox-compatibility ChangeCipherSpec, then the encrypted EncryptedExtensions,
    /// Certificate, CertificateVerify and Finished as one opaque application_data record.
    /// </summary>
    public static byte[] ServerFlightTls13(Random rng, int cipherSuite, int encryptedLength)
    {
        var w = new ByteWriter(encryptedLength + 200);
        int record = BeginRecord(w, Handshake, Tls12);
        int body = BeginHandshake(w, 2);
        w.U16(Tls12);
        w.Random(rng, 32);
        w.U8(32); w.Random(rng, 32);
        w.U16(cipherSuite);
        w.U8(0);
        int extensions = w.ReserveLength(2);
        Extension(w, 51, x => { x.U16(0x001D); x.U16(32); x.Random(rng, 32); });
        Extension(w, 43, x => x.U16(Tls13));
        w.PatchLength(extensions, 2);
        w.PatchLength(body, 3);
        w.PatchLength(record, 2);
        ChangeCipherSpecRecord(w);
        OpaqueRecord(w, ApplicationData, rng, encryptedLength);
        return w.ToArray();
    }

    /// <summary>
    /// A TLS 1.2 server flight (RFC 5246 7.4): ServerHello with the RFC 8446 4.1.3 downgrade
    /// sentinel, Certificate carrying <paramref name="certificateDer"/>, ServerKeyExchange
    /// (ECDHE x25519, RSA-PSS signature) and ServerHelloDone, in one record.
    /// </summary>
    public static byte[] ServerFlightTls12(Random rng, int cipherSuite, string? alpn, ReadOnlySpan<byte> certificateDer)
    {
        var w = new ByteWriter(certificateDer.Length + 600);
        int record = BeginRecord(w, Handshake, Tls12);
        int body = BeginHandshake(w, 2);
        w.U16(Tls12);
        w.Random(rng, 24);
        w.Ascii("DOWNGRD"); w.U8(1);        // the server also supports TLS 1.3 but chose 1.2
        w.U8(32); w.Random(rng, 32);
        w.U16(cipherSuite);
        w.U8(0);
        int extensions = w.ReserveLength(2);
        Extension(w, 0xFF01, x => x.U8(0));
        Extension(w, 11, x => { x.U8(1); x.U8(0); });
        Extension(w, 23, _ => { });
        if (alpn is not null)
            Extension(w, 16, x => { x.U16(alpn.Length + 1); x.U8(alpn.Length); x.Ascii(alpn); });
        w.PatchLength(extensions, 2);
        w.PatchLength(body, 3);

        int certificate = BeginHandshake(w, 11);
        int list = w.ReserveLength(3);
        w.U24(certificateDer.Length);
        w.Bytes(certificateDer);
        w.PatchLength(list, 3);
        w.PatchLength(certificate, 3);

        int keyExchange = BeginHandshake(w, 12);
        w.U8(3); w.U16(0x001D);             // named_curve x25519
        w.U8(32); w.Random(rng, 32);
        w.U16(0x0804);                      // rsa_pss_rsae_sha256
        w.U16(256); w.Random(rng, 256);
        w.PatchLength(keyExchange, 3);

        int done = BeginHandshake(w, 14);
        w.PatchLength(done, 3);
        w.PatchLength(record, 2);
        return w.ToArray();
    }

    /// <summary>TLS 1.2 client: ClientKeyExchange, ChangeCipherSpec, encrypted Finished.</summary>
    public static byte[] ClientFinishTls12(Random rng)
    {
        var w = new ByteWriter(128);
        int record = BeginRecord(w, Handshake, Tls12);
        int body = BeginHandshake(w, 16);
        w.U8(32); w.Random(rng, 32);
        w.PatchLength(body, 3);
        w.PatchLength(record, 2);
        ChangeCipherSpecRecord(w);
        OpaqueRecord(w, Handshake, rng, 40);
        return w.ToArray();
    }

    /// <summary>TLS 1.2 server: ChangeCipherSpec and encrypted Finished.</summary>
    public static byte[] ServerFinishTls12(Random rng)
    {
        var w = new ByteWriter(64);
        ChangeCipherSpecRecord(w);
        OpaqueRecord(w, Handshake, rng, 40);
        return w.ToArray();
    }

    /// <summary>TLS 1.3 client: compatibility ChangeCipherSpec and the encrypted Finished.</summary>
    public static byte[] ClientFinishTls13(Random rng)
    {
        var w = new ByteWriter(80);
        ChangeCipherSpecRecord(w);
        OpaqueRecord(w, ApplicationData, rng, 53);
        return w.ToArray();
    }

    /// <summary>Application data records of about <paramref name="plaintextLength"/> bytes (16 KiB max each).</summary>
    public static byte[] ApplicationRecords(Random rng, int plaintextLength)
    {
        var w = new ByteWriter(plaintextLength + 64);
        do
        {
            int chunk = Math.Min(plaintextLength, 16384);
            OpaqueRecord(w, ApplicationData, rng, chunk + 17); // AEAD tag + inner content type
            plaintextLength -= chunk;
        } while (plaintextLength > 0);
        return w.ToArray();
    }

    /// <summary>A plaintext alert (RFC 8446 6): level 2 = fatal, 40 = handshake_failure.</summary>
    public static byte[] AlertRecord(int level, int description)
    {
        var w = new ByteWriter(8);
        int record = BeginRecord(w, Alert, Tls12);
        w.U8(level); w.U8(description);
        w.PatchLength(record, 2);
        return w.ToArray();
    }

    private static void ChangeCipherSpecRecord(ByteWriter w)
    {
        w.U8(ChangeCipherSpec); w.U16(Tls12); w.U16(1); w.U8(1);
    }

    private static void OpaqueRecord(ByteWriter w, byte type, Random rng, int length)
    {
        w.U8(type); w.U16(Tls12); w.U16(length);
        w.Random(rng, length);
    }

    private static int BeginRecord(ByteWriter w, byte type, int version)
    {
        w.U8(type); w.U16(version);
        return w.ReserveLength(2);
    }

    private static int BeginHandshake(ByteWriter w, byte type)
    {
        w.U8(type);
        return w.ReserveLength(3);
    }

    private static void Extension(ByteWriter w, int type, Action<ByteWriter> body)
    {
        w.U16(type);
        int length = w.ReserveLength(2);
        body(w);
        w.PatchLength(length, 2);
    }
}
