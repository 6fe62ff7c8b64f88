using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>
/// Every packet shape cut at every captured length (original length unchanged, as a snaplen
/// would): never an exception, and the status and anomaly name the layer that was cut.
/// </summary>
public class TruncationTests
{
    private static readonly byte[] Body = Text("0123456789abcdef");
    private static readonly byte[] SynOptions = [2, 4, 0x05, 0xB4, 4, 2, 1, 3, 3, 7, 0, 0];

    public sealed record Shape(string Name, LinkType LinkType, byte[] Frame, int IpStart, int L4Start, int L4HeaderLength, bool IsTcp)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Shape> Shapes()
    {
        var tcp = Tcp(1000, 80, 1, 2, 0x018, 3, Body, SynOptions);
        var udp = Udp(53, 1053, Body);
        var ipOptions = new byte[8];
        ipOptions[0] = 0x94; ipOptions[1] = 4;
        var v4 = Ipv4("10.0.0.1", "10.0.0.2", 6, tcp, ipOptions);
        var v6 = Ipv6("2001:db8::1", "2001:db8::2", 0, Ipv6Extension(17, 1, udp));
        return new TheoryData<Shape>
        {
            new("ethernet-vlan2-ipv4opts-tcpopts", LinkType.Ethernet, EthernetTagged([0x88A8, 0x8100], [10, 20], 0x0800, v4), 22, 22 + 28, 32, true),
            new("sll-ipv4-tcp", LinkType.LinuxSll, Sll(0x0800, v4), 16, 16 + 28, 32, true),
            new("sll2-ipv6-ext-udp", LinkType.LinuxSll2, Sll2(0x86DD, v6), 20, 20 + 40 + 16, 8, false),
            new("null-ipv6-udp", LinkType.Null, Null(30, false, v6), 4, 4 + 40 + 16, 8, false),
            new("raw-ipv4-tcp", LinkType.Raw, v4, 0, 28, 32, true),
            new("raw-ipv6-udp", LinkType.Ipv6, v6, 0, 56, 8, false),
        };
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Cut_at_every_length(Shape shape)
    {
        var full = shape.Frame;
        var decoder = new PacketDecoder();
        for (int cut = 0; cut <= full.Length; cut++)
        {
            var r = DecodeResult.Of(decoder, full[..cut], shape.LinkType, originalLength: full.Length);
            string at = $"{shape.Name} cut at {cut}";
            if (cut < shape.IpStart)
            {
                Assert.True(r.Status == DecodeStatus.Malformed && r.Anomaly == DecodeAnomaly.TruncatedLink, at + $": {r.Status}/{r.Anomaly}");
            }
            else if (cut < shape.L4Start)
            {
                Assert.True(r.Status == DecodeStatus.Malformed && r.Anomaly == DecodeAnomaly.TruncatedIp, at + $": {r.Status}/{r.Anomaly}");
            }
            else if (cut < shape.L4Start + (shape.IsTcp ? 20 : 8))
            {
                var expected = shape.IsTcp ? DecodeAnomaly.TruncatedTcp : DecodeAnomaly.TruncatedUdp;
                Assert.True(r.Status == DecodeStatus.Malformed && r.Anomaly == expected, at + $": {r.Status}/{r.Anomaly}");
                if (cut >= shape.L4Start + 4) Assert.NotEqual(0, r.Packet.SourcePort);
            }
            else
            {
                Assert.True(r.Status == DecodeStatus.Decoded, at + $": {r.Status}/{r.Anomaly}");
                Assert.Equal(Body.Length, r.Packet.PayloadLength);
                int payloadStart = shape.L4Start + shape.L4HeaderLength;
                Assert.Equal(Math.Max(0, cut - payloadStart), r.Packet.CapturedPayloadLength);
                Assert.Equal(Body[..Math.Max(0, cut - payloadStart)], r.Payload);
                if (cut < payloadStart) Assert.Equal(DecodeAnomaly.TruncatedTcpOptions, r.Anomaly);
                else Assert.Equal(DecodeAnomaly.None, r.Anomaly);
            }
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(12345);
        var decoder = new PacketDecoder(new DecoderOptions { MaxPendingDatagrams = 8 });
        LinkType[] types = [LinkType.Ethernet, LinkType.LinuxSll, LinkType.LinuxSll2, LinkType.Null, LinkType.Loop, LinkType.Raw, LinkType.Ipv4, LinkType.Ipv6];
        var buffer = new byte[200];
        for (int i = 0; i < 50_000; i++)
        {
            int length = random.Next(buffer.Length);
            random.NextBytes(buffer);
            // Bias towards plausible headers so the deeper layers get exercised.
            if (length > 20 && i % 2 == 0) buffer[0] = (byte)(i % 4 == 0 ? 0x45 : 0x60);
            var type = types[i % types.Length];
            var status = decoder.Decode(buffer.AsSpan(0, length), type, i + 1, i * 1000L, length + random.Next(3) * 10, 0, out var packet, out var payload);
            Assert.True(payload.Length <= Math.Max(0, packet.PayloadLength), $"iteration {i}");
            Assert.True(Enum.IsDefined(status));
        }
        Assert.Equal(50_000, decoder.Statistics.Frames);
    }
}
