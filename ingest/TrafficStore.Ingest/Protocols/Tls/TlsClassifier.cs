namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>Recognises the start of a TLS stream: a handshake record (or an SSL 2.0 CLIENT-HELLO).</summary>
public static class TlsClassifier
{
    public static ProtocolMatch Classify(ReadOnlySpan<byte> firstBytes)
    {
        if (firstBytes.Length < 6) return ProtocolMatch.NeedMoreData;
        byte b0 = firstBytes[0];
        // TLS record: handshake(22) or alert(21), version 3.x, then a hello / alert
        if ((b0 == 22 || b0 == 21) && firstBytes[1] == 3 && firstBytes[2] <= 4)
        {
            int length = (firstBytes[3] << 8) | firstBytes[4];
            if (length == 0) return ProtocolMatch.No;
            if (b0 == 21) return length >= 2 ? ProtocolMatch.Yes : ProtocolMatch.No;
            // first handshake message: client_hello(1) or server_hello(2)
            return firstBytes[5] is 1 or 2 ? ProtocolMatch.Yes : ProtocolMatch.No;
        }
        // SSL 2.0 compatible CLIENT-HELLO: 2-byte header with the high bit, msg_type 1, version 0x0002 or 0x03xx
        if ((b0 & 0x80) != 0 && firstBytes[2] == 1 && (firstBytes[3] == 3 || (firstBytes[3] == 0 && firstBytes[4] == 2)))
        {
            return ProtocolMatch.Yes;
        }
        return ProtocolMatch.No;
    }
}
