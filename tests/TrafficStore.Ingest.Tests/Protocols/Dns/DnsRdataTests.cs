using TrafficStore.Ingest.Protocols.Dns;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>RDATA rendering; expected texts are the RFCs' own presentation examples.</summary>
public class DnsRdataTests
{
    private static DnsRecord One(ushort type, Action<DnsMessageBuilder> rdata)
    {
        var bytes = new DnsMessageBuilder().Header(1, 0x8180, 1, 1).Question("example.com", type)
            .Record(b => b.Pointer(12), type, 3600, rdata).ToArray();
        var m = DnsMessageReader.Parse(bytes, new DnsOptions())!;
        Assert.Empty(m.Anomalies);
        return Assert.Single(m.Answers);
    }

    [Fact]
    public void Aaaa() => Assert.Equal("2001:db8::1", One(28, b => b.Bytes(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)).Data);

    [Fact]
    public void MxWithCompressedExchange() => Assert.Equal("10 mail.example.com", One(15, b => b.U16(10).NameWithPointer("mail", 12)).Data);

    [Fact]
    public void Soa() =>
        Assert.Equal("ns.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300",
            One(6, b => b.NameWithPointer("ns", 12).NameWithPointer("hostmaster", 12).U32(2024010101).U32(7200).U32(3600).U32(1209600).U32(300)).Data);

    [Fact]
    public void Srv() => Assert.Equal("0 5 5060 sip.example.com", One(33, b => b.U16(0).U16(5).U16(5060).NameWithPointer("sip", 12)).Data);

    [Fact]
    public void TxtKeepsEachStringQuoted() =>
        Assert.Equal("\"v=spf1 -all\" \"a\\\"b\"", One(16, b => b.U8(11).Bytes("v=spf1 -all"u8.ToArray()).U8(3).Bytes((byte)'a', (byte)'"', (byte)'b')).Data);

    [Fact]
    public void CaaRfc8659Example() =>
        Assert.Equal("0 issue \"ca.example.net\"", One(257, b => b.U8(0).U8(5).Bytes("issue"u8.ToArray()).Bytes("ca.example.net"u8.ToArray())).Data);

    [Fact]
    public void HttpsRfc9460Example()
    {
        // RFC 9460 Appendix D.2 style: 1 . alpn=h2,h3 ipv4hint=192.0.2.1
        var rr = One(65, b => b.U16(1).U8(0)
            .U16(1).U16(6).U8(2).Bytes("h2"u8.ToArray()).U8(2).Bytes("h3"u8.ToArray())
            .U16(4).U16(4).Bytes(192, 0, 2, 1));
        Assert.Equal("1 . alpn=h2,h3 ipv4hint=192.0.2.1", rr.Data);
    }

    [Fact]
    public void LocRfc1876Example()
    {
        // RFC 1876 §4 example: "42 21 54 N 71 06 18 W -24m 30m"; size 30m (0x33), hp 10000m (0x16), vp 10m (0x13)
        uint lat = (1u << 31) + (uint)(((42 * 60 + 21) * 60 + 54) * 1000);
        uint lon = (1u << 31) - (uint)(((71 * 60 + 6) * 60 + 18) * 1000);
        uint alt = 10_000_000 - 2400;
        var rr = One(29, b => b.U8(0).U8(0x33).U8(0x16).U8(0x13).U32(lat).U32(lon).U32(alt));
        Assert.Equal("42 21 54.000 N 71 6 18.000 W -24.00m 30.00m 10000.00m 10.00m", rr.Data);
    }

    [Fact]
    public void UnknownTypeUsesRfc3597GenericForm() => Assert.Equal(@"\# 3 0a0b0c", One(4000, b => b.Bytes(10, 11, 12)).Data);

    [Fact]
    public void ShortARecordIsBadRdata()
    {
        var bytes = new DnsMessageBuilder().Header(1, 0x8180, 1, 1).Question("example.com", 1)
            .Record(b => b.Pointer(12), 1, 1, b => b.Bytes(1, 2, 3)).ToArray();
        var m = DnsMessageReader.Parse(bytes, new DnsOptions())!;
        Assert.Contains(DnsAnomaly.BadRdata, m.Anomalies);
        Assert.Equal(@"\# 3 010203", m.Answers[0].Data);
    }
}
