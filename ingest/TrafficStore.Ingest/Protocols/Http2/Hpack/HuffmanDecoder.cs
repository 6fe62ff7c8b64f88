namespace TrafficStore.Ingest.Protocols.Http2.Hpack;

/// <summary>
/// Decodes HPACK Huffman-coded string literals (RFC 7541 §5.2, code table in Appendix B).
/// The table below is the RFC's data: for each symbol 0..255 and EOS (256) its code, right-aligned,
/// and its length in bits. A binary trie is built from it once; decoding walks it bit by bit.
/// </summary>
public static class HuffmanDecoder
{
    // RFC 7541 Appendix B: (code as hex aligned to LSB, bit length), symbols 0..256 in order.
    private static readonly (uint Code, byte Bits)[] Codes =
    {
        (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28), (0xfffffe5, 28),
        (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
        (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28),
        (0xfffffef, 28), (0xffffff0, 28), (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
        (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
        (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
        (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), (0x3fa, 10), (0x3fb, 10),
        (0xf9, 8), (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
        (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6),
        (0x1c, 6), (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
        (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13), (0x21, 6),
        (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
        (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7),
        (0x69, 7), (0x6a, 7), (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
        (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
        (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
        (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5),
        (0x25, 6), (0x26, 6), (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
        (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7),
        (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
        (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14),
        (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
        (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23),
        (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
        (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
        (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
        (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), (0x3fffda, 22), (0x1fffdd, 21),
        (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
        (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22),
        (0x7fffeb, 23), (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
        (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20), (0x3fffe2, 22),
        (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
        (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23),
        (0x3fffe8, 22), (0x1ffffec, 25), (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
        (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
        (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
        (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27),
        (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
        (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22),
        (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
        (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27),
        (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
        (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), (0x3fffffff, 30),
    };

    private const int Eos = 256;

    /// <summary>Trie: node n has children at [2n] (bit 0) and [2n+1] (bit 1); a value &lt; 0 is leaf ~symbol, 0 = absent.</summary>
    private static readonly int[] Trie = BuildTrie();

    /// <summary>
    /// The trie walked four bits at a time: for (node, nibble) the node reached, the symbol emitted
    /// on the way (at most one: the shortest code has 5 bits) or -1, and whether EOS was decoded.
    /// </summary>
    private static readonly (ushort Next, short Symbol, bool Fail)[] Nibbles = BuildNibbles();

    /// <summary>Nodes where a string may end: on the all-ones (EOS) path, at most 7 bits deep (§5.2).</summary>
    private static readonly bool[] ValidEnd = BuildValidEnds();

    private static int[] BuildTrie()
    {
        var trie = new List<int> { 0, 0 };
        for (int symbol = 0; symbol < Codes.Length; symbol++)
        {
            var (code, bits) = Codes[symbol];
            int node = 0;
            for (int i = bits - 1; i >= 0; i--)
            {
                int bit = (int)((code >> i) & 1);
                int slot = 2 * node + bit;
                if (i == 0)
                {
                    trie[slot] = ~symbol;
                    break;
                }
                if (trie[slot] == 0)
                {
                    trie.Add(0);
                    trie.Add(0);
                    trie[slot] = trie.Count / 2 - 1;
                }
                node = trie[slot];
            }
        }
        return trie.ToArray();
    }

    private static (ushort, short, bool)[] BuildNibbles()
    {
        int nodes = Trie.Length / 2;
        var table = new (ushort, short, bool)[nodes * 16];
        for (int start = 0; start < nodes; start++)
        {
            for (int nibble = 0; nibble < 16; nibble++)
            {
                int node = start;
                short symbol = -1;
                bool fail = false;
                for (int i = 3; i >= 0; i--)
                {
                    int next = Trie[2 * node + ((nibble >> i) & 1)];
                    if (next < 0)
                    {
                        if (~next == Eos) fail = true;
                        else symbol = (short)~next;
                        node = 0;
                    }
                    else
                    {
                        node = next;
                    }
                }
                table[start * 16 + nibble] = ((ushort)node, symbol, fail);
            }
        }
        return table;
    }

    private static bool[] BuildValidEnds()
    {
        var valid = new bool[Trie.Length / 2];
        valid[0] = true; // ended on a symbol boundary
        int node = 0;
        for (int depth = 1; depth <= 7; depth++)
        {
            node = Trie[2 * node + 1];
            valid[node] = true;
        }
        return valid;
    }

    /// <summary>Upper bound of the decoded length: the shortest code is 5 bits.</summary>
    public static int MaxDecodedLength(int encodedLength) => encodedLength * 8 / 5;

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxDecodedLength"/> bytes). Returns the decoded length, or -1 when the input is
    /// invalid: it contains EOS, or the padding is longer than 7 bits or not the most significant
    /// bits of EOS (all ones) (RFC 7541 §5.2).
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var nibbles = Nibbles;
        int written = 0;
        int node = 0;
        foreach (byte b in source)
        {
            var high = nibbles[node * 16 + (b >> 4)];
            if (high.Fail) return -1;
            if (high.Symbol >= 0)
            {
                if (written >= destination.Length) return -1;
                destination[written++] = (byte)high.Symbol;
            }
            var low = nibbles[high.Next * 16 + (b & 0xF)];
            if (low.Fail) return -1;
            if (low.Symbol >= 0)
            {
                if (written >= destination.Length) return -1;
                destination[written++] = (byte)low.Symbol;
            }
            node = low.Next;
        }
        return ValidEnd[node] ? written : -1;
    }
}
