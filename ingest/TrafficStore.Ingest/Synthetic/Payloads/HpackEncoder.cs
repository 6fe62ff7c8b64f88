namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>
/// A minimal HPACK encoder (RFC 7541): fully indexed static-table entries where name and value
/// match, otherwise "literal header field without indexing" with an indexed name when the static
/// table has it, else a literal name. Strings are sent raw (H = 0); no dynamic table is used, so
/// every header block decodes on its own.
/// </summary>
internal static class HpackEncoder
{
    /// <summary>RFC 7541 Appendix A: the static-table entries the generator uses.</summary>
    private static readonly (string Name, string Value, int Index)[] StaticTable =
    {
        (":authority", "", 1), (":method", "GET", 2), (":method", "POST", 3), (":path", "/", 4),
        (":path", "/index.html", 5), (":scheme", "http", 6), (":scheme", "https", 7), (":status", "200", 8),
        (":status", "204", 9), (":status", "206", 10), (":status", "304", 11), (":status", "400", 12),
        (":status", "404", 13), (":status", "500", 14), ("accept-encoding", "gzip, deflate", 16),
        ("accept", "", 19), ("content-length", "", 28), ("content-type", "", 31), ("date", "", 33),
        ("server", "", 54), ("user-agent", "", 58),
    };

    public static void Encode(ByteWriter output, IEnumerable<(string Name, string Value)> headers)
    {
        foreach (var (name, value) in headers) EncodeField(output, name, value);
    }

    public static void EncodeField(ByteWriter output, string name, string value)
    {
        int nameIndex = 0;
        foreach (var entry in StaticTable)
        {
            if (entry.Name != name) continue;
            if (entry.Value == value)
            {
                // Section 6.1: indexed header field, 1xxxxxxx with a 7-bit prefix index.
                WriteInteger(output, 0x80, 7, entry.Index);
                return;
            }
            if (nameIndex == 0) nameIndex = entry.Index;
        }
        // Section 6.2.2: literal header field without indexing, 0000xxxx with a 4-bit prefix
        // name index (0 = the name follows as a string literal).
        WriteInteger(output, 0x00, 4, nameIndex);
        if (nameIndex == 0) WriteString(output, name);
        WriteString(output, value);
    }

    /// <summary>Section 5.1: an integer with an N-bit prefix, continued in 7-bit groups.</summary>
    public static void WriteInteger(ByteWriter output, int firstByteBits, int prefixBits, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max) { output.U8(firstByteBits | value); return; }
        output.U8(firstByteBits | max);
        value -= max;
        while (value >= 128) { output.U8(value % 128 + 128); value /= 128; }
        output.U8(value);
    }

    /// <summary>Section 5.2: string literal, H bit 0 (no Huffman), 7-bit prefix length.</summary>
    private static void WriteString(ByteWriter output, string text)
    {
        WriteInteger(output, 0x00, 7, System.Text.Encoding.UTF8.GetByteCount(text));
        output.Utf8(text);
    }
}
