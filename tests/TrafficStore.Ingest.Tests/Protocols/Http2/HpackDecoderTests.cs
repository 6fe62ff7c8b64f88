using TrafficStore.Ingest.Protocols.Http2.Hpack;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>RFC 7541 Appendix C: every example, decoded whole and one byte at a time.</summary>
public class HpackDecoderTests
{
    public sealed record Example(string Id, string Hex, string[] Headers, string[] TableAfter, int SizeAfter);

    private static string[] H(params string[] nameValue) => nameValue;

    // Appendix C.3 (requests without Huffman) and C.4 (with Huffman): same headers, same tables.
    private static readonly string[][] RequestHeaders =
    {
        H(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"),
        H(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache"),
        H(":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com", "custom-key", "custom-value"),
    };

    private static readonly string[][] RequestTables =
    {
        H(":authority", "www.example.com"),
        H("cache-control", "no-cache", ":authority", "www.example.com"),
        H("custom-key", "custom-value", "cache-control", "no-cache", ":authority", "www.example.com"),
    };

    private static readonly int[] RequestSizes = { 57, 110, 164 };

    // Appendix C.5 / C.6: responses, SETTINGS_HEADER_TABLE_SIZE 256, with evictions.
    private static readonly string[][] ResponseHeaders =
    {
        H(":status", "302", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
        H(":status", "307", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
        H(":status", "200", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location", "https://www.example.com",
          "content-encoding", "gzip", "set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    };

    private static readonly string[][] ResponseTables =
    {
        H("location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private", ":status", "302"),
        H(":status", "307", "location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private"),
        H("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "content-encoding", "gzip", "date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    };

    private static readonly int[] ResponseSizes = { 222, 222, 215 };

    public static TheoryData<string, string[], int, bool> Sequences() => new()
    {
        { "C.3", new[] { "828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865", "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565" }, 4096, false },
        { "C.4", new[] { "828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf", "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf" }, 4096, false },
        { "C.5", new[] {
            "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
            "4803333037c1c0bf",
            "88c1611d4d6f6e2c203231204f637420323031332032303a31333a323220474d54c05a04677a69707738666f6f3d4153444a4b48514b425a584f5157454f50495541585157454f49553b206d61782d6167653d333630303b2076657273696f6e3d31" }, 256, true },
        { "C.6", new[] {
            "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
            "4883640effc1c0bf",
            "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007" }, 256, true },
    };

    [Theory]
    [MemberData(nameof(Sequences))]
    public void AppendixCSequencesDecodeWhole(string id, string[] blocks, int tableSize, bool responses) =>
        RunSequence(id, blocks, tableSize, responses, chunk: int.MaxValue);

    [Theory]
    [MemberData(nameof(Sequences))]
    public void AppendixCSequencesDecodeOneByteAtATime(string id, string[] blocks, int tableSize, bool responses) =>
        RunSequence(id, blocks, tableSize, responses, chunk: 1);

    [Theory]
    [MemberData(nameof(Sequences))]
    public void AppendixCSequencesDecodeSplitAtEveryOffset(string id, string[] blocks, int tableSize, bool responses)
    {
        for (int split = 0; split <= 200; split++)
        {
            var decoder = new HpackDecoder(maxTableSize: tableSize);
            for (int b = 0; b < blocks.Length; b++)
            {
                var bytes = Convert.FromHexString(blocks[b]);
                int at = Math.Min(split, bytes.Length);
                var headers = new List<KeyValuePair<string, string>>();
                Assert.Equal(HpackStatus.Ok, decoder.Decode(bytes.AsSpan(0, at), false, headers));
                Assert.Equal(HpackStatus.Ok, decoder.Decode(bytes.AsSpan(at), true, headers));
                Assert.Equal((responses ? ResponseHeaders : RequestHeaders)[b], Flatten(headers));
            }
        }
    }

    [Fact]
    public void C2_1_LiteralWithIndexing()
    {
        var d = new HpackDecoder();
        var h = DecodeBlock(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572");
        Assert.Equal(H("custom-key", "custom-header"), h);
        Assert.Equal(55, d.Table.Size);
        Assert.Equal(("custom-key", "custom-header"), d.Table[1]);
    }

    [Fact]
    public void C2_2_LiteralWithoutIndexing()
    {
        var d = new HpackDecoder();
        Assert.Equal(H(":path", "/sample/path"), DecodeBlock(d, "040c2f73616d706c652f70617468"));
        Assert.Equal(0, d.Table.Count);
    }

    [Fact]
    public void C2_3_LiteralNeverIndexed()
    {
        var d = new HpackDecoder();
        Assert.Equal(H("password", "secret"), DecodeBlock(d, "100870617373776f726406736563726574"));
        Assert.Equal(0, d.Table.Count);
    }

    [Fact]
    public void C2_4_IndexedField()
    {
        var d = new HpackDecoder();
        Assert.Equal(H(":method", "GET"), DecodeBlock(d, "82"));
        Assert.Equal(0, d.Table.Size);
    }

    [Fact]
    public void C1_IntegersWithPrefixes()
    {
        // C.1.1: 10 in a 5-bit prefix; C.1.2: 1337 in a 5-bit prefix; C.1.3: 42 at an octet boundary.
        // Exercised as dynamic table size updates (5-bit prefix, 001 pattern) and an indexed field.
        var d = new HpackDecoder(maxTableSize: 4096);
        DecodeBlock(d, "2a"); // 001 01010: size update to 10
        Assert.Equal(10, d.Table.MaxSize);
        DecodeBlock(d, "3f9a0a"); // 001 11111 10011010 00001010: 1337
        Assert.Equal(1337, d.Table.MaxSize);
    }

    [Fact]
    public void HuffmanPaddingLongerThanSevenBitsIsAnError()
    {
        // "a" is 00011 (5 bits); 0x1f = 00011111 -> "a" + 3 bits of padding: fine.
        Span<byte> output = stackalloc byte[8];
        Assert.Equal(1, HuffmanDecoder.Decode(new byte[] { 0x1f }, output));
        Assert.Equal((byte)'a', output[0]);
        // "a" + 11 one-bits: 00011111 11111111 -> padding of 11 bits: invalid (RFC 7541 §5.2).
        Assert.Equal(-1, HuffmanDecoder.Decode(new byte[] { 0x1f, 0xff }, output));
    }

    [Fact]
    public void HuffmanPaddingThatIsNotEosPrefixIsAnError()
    {
        Span<byte> output = stackalloc byte[8];
        // "a" (00011) then padding 000 instead of 111
        Assert.Equal(-1, HuffmanDecoder.Decode(new byte[] { 0x18 }, output));
    }

    [Fact]
    public void HuffmanEosInsideTheStringIsAnError()
    {
        Span<byte> output = stackalloc byte[16];
        // EOS is 30 one-bits: 4 bytes of 0xff hold it completely (plus 2 bits).
        Assert.Equal(-1, HuffmanDecoder.Decode(new byte[] { 0xff, 0xff, 0xff, 0xff }, output));
    }

    [Fact]
    public void InvalidHuffmanInBlockIsReportedNotThrown()
    {
        var d = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        // literal without indexing, new name "a" (raw), value huffman 2 bytes with 11-bit padding
        Assert.Equal(HpackStatus.InvalidData, d.Decode(Convert.FromHexString("000161821fff"), true, headers));
        Assert.Equal(HpackError.InvalidHuffman, d.LastError);
    }

    [Fact]
    public void EvictionWhenEntriesExceedTheMaximum()
    {
        var d = new HpackDecoder(maxTableSize: 100);
        d.Table.Resize(100);
        // two entries of 32 + 10 + 13 = 55 octets cannot both fit in 100: the older one is evicted
        DecodeBlock(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646572");
        DecodeBlock(d, "400a637573746f6d2d6b65790d637573746f6d2d686561646573");
        Assert.Equal(1, d.Table.Count);
        Assert.Equal(("custom-key", "custom-heades"), d.Table[1]);
        Assert.Equal(55, d.Table.Size);
        // an entry larger than the table empties it (RFC 7541 §4.4)
        d.Table.Resize(50);
        Assert.Equal(0, d.Table.Count);
        Assert.Equal(0, d.Table.Size);
    }

    [Fact]
    public void SizeUpdateAboveTheSettingIsAnError()
    {
        var d = new HpackDecoder(maxTableSize: 4096);
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.InvalidData, d.Decode(Convert.FromHexString("3fe21f"), true, headers)); // 4097+... = 4065+31
        Assert.Equal(HpackError.TableSizeTooLarge, d.LastError);
    }

    [Fact]
    public void MidStreamSizeUpdateAboveTheSettingIsAccepted()
    {
        var d = new HpackDecoder(maxTableSize: 4096) { TolerateUnknownIndexes = true };
        var headers = new List<KeyValuePair<string, string>>();
        var status = d.Decode(Convert.FromHexString("3fe21f82"), true, headers);
        Assert.True(status == HpackStatus.Ok, d.LastError.ToString());
        Assert.Equal(4097, d.Table.MaxSize);
        Assert.Equal(H(":method", "GET"), Flatten(headers));
    }

    [Fact]
    public void SizeUpdateAfterAFieldIsAnError()
    {
        var d = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.InvalidData, d.Decode(Convert.FromHexString("822a"), true, headers));
        Assert.Equal(HpackError.TableSizeUpdateNotAtStart, d.LastError);
    }

    [Fact]
    public void IndexBeyondTheTablesIsAnErrorUnlessPickingUpMidStream()
    {
        var d = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.InvalidData, d.Decode(new byte[] { 0xbe }, true, headers)); // index 62, table empty
        Assert.Equal(HpackError.InvalidIndex, d.LastError);
        Assert.Equal(HpackStatus.InvalidData, d.Decode(new byte[] { 0x80 }, true, headers)); // index 0
        d.TolerateUnknownIndexes = true;
        Assert.Equal(HpackStatus.Ok, d.Decode(new byte[] { 0xbe, 0x82 }, true, headers));
        Assert.Equal(1, d.UnknownIndexes);
        Assert.Equal(H(":method", "GET"), Flatten(headers));
    }

    [Fact]
    public void BlockEndingInsideARepresentationIsTruncated()
    {
        var d = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.InvalidData, d.Decode(Convert.FromHexString("400a6375"), true, headers));
        Assert.Equal(HpackError.TruncatedBlock, d.LastError);
        // the decoder is usable for the next block
        Assert.Equal(HpackStatus.Ok, d.Decode(new byte[] { 0x82 }, true, headers));
    }

    [Fact]
    public void HeaderListBombIsCappedAndFlagged()
    {
        // one literal with indexing (name "x", 1000-byte value), then 1000 references to it:
        // a 1 KB block that would expand to ~1 MB of headers
        var block = new List<byte> { 0x40, 0x01, (byte)'x', 0x7f, 0xe9, 0x06 }; // length 127 + 873 = 1000
        block.AddRange(Enumerable.Repeat((byte)'v', 1000));
        block.AddRange(Enumerable.Repeat((byte)0xbe, 1000));
        var d = new HpackDecoder(maxHeaderListSize: 16 * 1024);
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.Ok, d.Decode(block.ToArray(), true, headers));
        Assert.True(d.HeaderListTruncated);
        Assert.Equal(15, headers.Count); // 15 * 1033 <= 16384 < 16 * 1033
        Assert.Equal(1, d.Table.Count); // the table stayed in sync
    }

    [Fact]
    public void IntegerOverflowIsAnError()
    {
        var d = new HpackDecoder();
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.InvalidData, d.Decode(Convert.FromHexString("ffffffffffff7f"), true, headers));
        Assert.Equal(HpackError.IntegerOverflow, d.LastError);
    }

    private static void RunSequence(string id, string[] blocks, int tableSize, bool responses, int chunk)
    {
        var decoder = new HpackDecoder(maxTableSize: tableSize);
        for (int b = 0; b < blocks.Length; b++)
        {
            var bytes = Convert.FromHexString(blocks[b]);
            var headers = new List<KeyValuePair<string, string>>();
            for (int at = 0; at < bytes.Length; at += chunk)
            {
                int len = Math.Min(chunk, bytes.Length - at);
                Assert.Equal(HpackStatus.Ok, decoder.Decode(bytes.AsSpan(at, len), at + len == bytes.Length, headers));
            }
            Assert.True(Flatten(headers).SequenceEqual((responses ? ResponseHeaders : RequestHeaders)[b]), $"{id}.{b + 1} headers");
            var expectedTable = (responses ? ResponseTables : RequestTables)[b];
            var table = new List<string>();
            for (int i = 1; i <= decoder.Table.Count; i++) { table.Add(decoder.Table[i].Name); table.Add(decoder.Table[i].Value); }
            Assert.True(expectedTable.SequenceEqual(table), $"{id}.{b + 1} table: {string.Join(", ", table)}");
            Assert.Equal((responses ? ResponseSizes : RequestSizes)[b], decoder.Table.Size);
        }
    }

    private static string[] DecodeBlock(HpackDecoder d, string hex)
    {
        var headers = new List<KeyValuePair<string, string>>();
        Assert.Equal(HpackStatus.Ok, d.Decode(Convert.FromHexString(hex), true, headers));
        return Flatten(headers);
    }

    private static string[] Flatten(List<KeyValuePair<string, string>> headers) =>
        headers.SelectMany(h => new[] { h.Key, h.Value }).ToArray();
}
