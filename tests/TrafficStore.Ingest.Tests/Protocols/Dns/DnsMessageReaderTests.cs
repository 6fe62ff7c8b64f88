using TrafficStore.Ingest.Protocols.Dns;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

public class DnsMessageReaderTests
{
    private static readonly DnsOptions Options = new();

    [Fact]
    public void ReadsHeaderQuestionAnswersWithCompressionAndEdns()
    {
        var m = DnsMessageReader.Parse(DnsMessageBuilder.CnameAResponse(0x1234), Options)!;
        Assert.Equal(0x1234, m.Id);
        Assert.True(m.IsResponse);
        Assert.True(m.RecursionDesired);
        Assert.True(m.RecursionAvailable);
        Assert.Equal("www.example.com", Assert.Single(m.Questions).Name);
        Assert.Equal(2, m.Answers.Count);
        Assert.Equal(("www.example.com", "CNAME", 300u, "edge.example.com"), (m.Answers[0].Name, m.Answers[0].TypeName, m.Answers[0].Ttl, m.Answers[0].Data));
        Assert.Equal(("edge.example.com", "A", "93.184.216.34"), (m.Answers[1].Name, m.Answers[1].TypeName, m.Answers[1].Data));
        Assert.Equal(new DnsEdns(1232, 0, 0, true), m.Edns);
        Assert.Empty(m.Anomalies);
    }

    [Fact]
    public void PointerToItselfIsALoop()
    {
        // question name at offset 12 is a pointer to offset 12
        var bytes = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Pointer(12).U16(1).U16(1).ToArray();
        var m = DnsMessageReader.Parse(bytes, Options)!;
        Assert.Empty(m.Questions);
        Assert.Equal(new[] { DnsAnomaly.PointerLoop }, m.Anomalies);
    }

    [Fact]
    public void TwoPointersPointingAtEachOtherAreALoop()
    {
        // offset 12: "a" then pointer to 16; offset 16: "b" then pointer back to 12
        var bytes = new DnsMessageBuilder().Header(1, 0x0100, 1, 0)
            .Bytes(1, (byte)'a').Pointer(16).Bytes(1, (byte)'b').Pointer(12).ToArray();
        var m = DnsMessageReader.Parse(bytes, Options)!;
        Assert.Contains(DnsAnomaly.PointerLoop, m.Anomalies);
    }

    [Fact]
    public void ForwardPointerIsFollowed()
    {
        // the question's name points forward to a name stored after the question (tshark accepts this)
        var b = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Pointer(18).U16(1).U16(1).Name("fwd.example");
        var m = DnsMessageReader.Parse(b.ToArray(), Options)!;
        Assert.Equal("fwd.example", Assert.Single(m.Questions).Name);
        Assert.Contains(DnsAnomaly.TrailingBytes, m.Anomalies); // the stored name is not a counted record
    }

    [Fact]
    public void PointerChainLongerThanTheHopCapStops()
    {
        // question name = pointer to the last link of a chain of 10 pointers that ends at "x" (offset 18)
        var msg = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Pointer(0).U16(1).U16(1).Name("x");
        int prev = 18;
        for (int i = 0; i < 10; i++) { int at = msg.Length; msg.Pointer(prev); prev = at; }
        var final = msg.ToArray();
        final[12] = (byte)(0xC0 | (prev >> 8));
        final[13] = (byte)prev;

        var capped = DnsMessageReader.Parse(final, new DnsOptions { MaxPointerHops = 5 })!;
        Assert.Contains(DnsAnomaly.PointerHopsExceeded, capped.Anomalies);
        var enough = DnsMessageReader.Parse(final, new DnsOptions { MaxPointerHops = 32 })!;
        Assert.Equal("x", Assert.Single(enough.Questions).Name);
    }

    [Fact]
    public void NameLongerThan255OctetsIsRejected()
    {
        var longName = string.Join('.', Enumerable.Repeat(new string('a', 63), 4)); // 4 * 64 + 1 = 257 octets
        var bytes = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Question(longName, 1).ToArray();
        var m = DnsMessageReader.Parse(bytes, Options)!;
        Assert.Equal(new[] { DnsAnomaly.NameTooLong }, m.Anomalies);
    }

    [Fact]
    public void ExtendedLabelTypeIsAnAnomaly()
    {
        var bytes = new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Bytes(0x41, 0).U16(1).U16(1).ToArray();
        Assert.Equal(new[] { DnsAnomaly.BadLabelType }, DnsMessageReader.Parse(bytes, Options)!.Anomalies);
    }

    [Fact]
    public void TruncatedAtEveryByteNeverThrowsAndSaysTruncated()
    {
        var whole = DnsMessageBuilder.CnameAResponse(7);
        for (int cut = 0; cut < whole.Length; cut++)
        {
            var m = DnsMessageReader.Parse(whole.AsSpan(0, cut), Options);
            if (cut < DnsMessageReader.HeaderLength) { Assert.Null(m); continue; }
            Assert.NotNull(m);
            Assert.Contains(DnsAnomaly.Truncated, m!.Anomalies);
        }
        Assert.Empty(DnsMessageReader.Parse(whole, Options)!.Anomalies);
    }

    [Fact]
    public void SectionCountAboveTheCapIsAnAnomaly()
    {
        var b = new DnsMessageBuilder().Header(1, 0x8180, 0, 3);
        for (int i = 0; i < 3; i++) b.Record(x => x.Name(""), 1, 1, x => x.Bytes(1, 2, 3, 4));
        var m = DnsMessageReader.Parse(b.ToArray(), new DnsOptions { MaxRecordsPerSection = 2 })!;
        Assert.Equal(2, m.Answers.Count);
        Assert.Contains(DnsAnomaly.TooManyRecords, m.Anomalies);
    }

    [Fact]
    public void RootNameIsShownAsTsharkDoes()
    {
        var m = DnsMessageReader.Parse(new DnsMessageBuilder().Header(1, 0x0100, 1, 0).Question("", 2).ToArray(), Options)!;
        Assert.Equal("<Root>", m.Questions[0].Name);
    }
}
