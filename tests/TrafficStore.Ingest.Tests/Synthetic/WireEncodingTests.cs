using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Tests.Synthetic;

/// <summary>Known answers from the RFCs for the generator's wire encoders.</summary>
public class WireEncodingTests
{
    [Fact]
    public void ChecksumMatchesTheRfc1071Example()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is ~ddf2.
        var sum = new InternetChecksum();
        sum.Add(new byte[] { 0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7 });
        Assert.Equal(0x220D, sum.Finish());
    }

    [Fact]
    public void ChecksumOfAnIpv4HeaderIsTheKnownValue()
    {
        // A widely used worked example: 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        byte[] header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        var sum = new InternetChecksum();
        sum.Add(header);
        Assert.Equal(0xB861, sum.Finish());
    }

    [Fact]
    public void ChecksumHandlesOddLengthsAndHostOrderWords()
    {
        // An odd final byte is padded with a zero low byte: 0x01 0x02 0x03 -> 0102 + 0300 = 0402.
        var sum = new InternetChecksum();
        sum.Add(new byte[] { 0x01, 0x02, 0x03 });
        Assert.Equal(0xFBFD, sum.Finish()); // ~0x0402
        var words = new InternetChecksum();
        words.Add(0x0102);
        words.Add(0x0300);
        Assert.Equal(0xFBFD, words.Finish());
    }

    [Theory]
    [InlineData(10, 5, "0a")]      // RFC 7541 C.1.1
    [InlineData(1337, 5, "1f9a0a")] // RFC 7541 C.1.2
    [InlineData(42, 8, "2a")]      // RFC 7541 C.1.3
    public void HpackIntegersMatchRfc7541(int value, int prefix, string hex)
    {
        var w = new ByteWriter();
        HpackEncoder.WriteInteger(w, 0, prefix, value);
        Assert.Equal(hex, Convert.ToHexString(w.WrittenSpan).ToLowerInvariant());
    }

    [Fact]
    public void HpackFieldsMatchRfc7541Examples()
    {
        var w = new ByteWriter();
        HpackEncoder.EncodeField(w, ":path", "/sample/path"); // C.2.2 literal without indexing, indexed name
        Assert.Equal("040c2f73616d706c652f70617468", Convert.ToHexString(w.WrittenSpan).ToLowerInvariant());
        w.Clear();
        HpackEncoder.EncodeField(w, ":method", "GET");        // C.2.4 indexed field
        Assert.Equal("82", Convert.ToHexString(w.WrittenSpan).ToLowerInvariant());
    }

    [Fact]
    public void DnsQueryMatchesTheRfc1035Layout()
    {
        byte[] query = DnsMessageWriter.Query(0x1234, "example.com", DnsType.A);
        Assert.Equal("123401000001000000000000076578616d706c6503636f6d0000010001", Convert.ToHexString(query).ToLowerInvariant());
    }
}
