using System.Buffers.Binary;

namespace TrafficStore.Ingest.Synthetic.Wire;

/// <summary>TCP header flag bits (RFC 9293 section 3.1).</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    Fin = 0x01,
    Syn = 0x02,
    Rst = 0x04,
    Psh = 0x08,
    Ack = 0x10,
    Urg = 0x20,
}

/// <summary>The addressing of one frame: link, network and transport endpoints.</summary>
internal readonly ref struct FrameAddressing
{
    public readonly SimulatedHost Source;
    public readonly SimulatedHost Destination;
    public readonly ushort SourcePort;
    public readonly ushort DestinationPort;
    public readonly bool Ipv6;

    public FrameAddressing(SimulatedHost source, ushort sourcePort, SimulatedHost destination, ushort destinationPort, bool ipv6)
    {
        Source = source;
        SourcePort = sourcePort;
        Destination = destination;
        DestinationPort = destinationPort;
        Ipv6 = ipv6;
    }
}

/// <summary>
/// Builds complete Ethernet II frames carrying IPv4 or IPv6 and TCP or UDP, with valid IP, TCP and
/// UDP checksums, into a caller's buffer. Nothing here allocates.
/// </summary>
internal static class FrameBuilder
{
    public const int EthernetHeaderLength = 14;
    public const int Ipv4HeaderLength = 20;
    public const int Ipv6HeaderLength = 40;
    public const int TcpHeaderLength = 20;
    public const int UdpHeaderLength = 8;
    private const byte ProtocolTcp = 6;
    private const byte ProtocolUdp = 17;

    /// <summary>
    /// Writes Ethernet + IP + TCP + payload (given in one or two parts); returns the frame length.
    /// <code>
    ///  TCP header (RFC 9293 section 3.1)
    ///  0                   1                   2                   3
    ///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// |          Source Port          |       Destination Port        |
    /// |                        Sequence Number                        |
    /// |                    Acknowledgment Number                      |
    /// |  Data |       |C|E|U|A|P|R|S|F|                               |
    /// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
    /// |           Checksum            |         Urgent Pointer        |
    /// |                           [Options]                           |
    /// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    /// </code>
    /// </summary>
    public static int WriteTcp(Span<byte> frame, in FrameAddressing a, ushort ipId, uint seq, uint ack, TcpFlags flags,
        ushort window, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> payloadContinued = default)
    {
        if ((options.Length & 3) != 0 || options.Length > 40) throw new ArgumentException("TCP options must be padded to 4 bytes, at most 40.", nameof(options));
        int tcpLength = TcpHeaderLength + options.Length;
        int l4Length = tcpLength + payload.Length + payloadContinued.Length;
        int ipLength = WriteLinkAndIp(frame, a, ipId, ProtocolTcp, l4Length);
        Span<byte> tcp = frame.Slice(EthernetHeaderLength + ipLength, l4Length);

        BinaryPrimitives.WriteUInt16BigEndian(tcp, a.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], a.DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], (flags & TcpFlags.Ack) != 0 ? ack : 0);
        tcp[12] = (byte)(tcpLength / 4 << 4);
        tcp[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        tcp[16] = 0; tcp[17] = 0;
        tcp[18] = 0; tcp[19] = 0;
        options.CopyTo(tcp[TcpHeaderLength..]);
        payload.CopyTo(tcp[tcpLength..]);
        payloadContinued.CopyTo(tcp[(tcpLength + payload.Length)..]);

        ushort checksum = TransportChecksum(a, ProtocolTcp, tcp);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], checksum);
        return EthernetHeaderLength + ipLength + l4Length;
    }

    /// <summary>
    /// Writes Ethernet + IP + UDP + payload; returns the frame length.
    /// <code>
    ///  UDP header (RFC 768)
    /// +--------+--------+--------+--------+
    /// |  Source Port    | Destination Port|
    /// |     Length      |    Checksum     |
    /// +--------+--------+--------+--------+
    /// </code>
    /// </summary>
    public static int WriteUdp(Span<byte> frame, in FrameAddressing a, ushort ipId, ReadOnlySpan<byte> payload)
    {
        int l4Length = UdpHeaderLength + payload.Length;
        int ipLength = WriteLinkAndIp(frame, a, ipId, ProtocolUdp, l4Length);
        Span<byte> udp = frame.Slice(EthernetHeaderLength + ipLength, l4Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp, a.SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], a.DestinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)l4Length);
        udp[6] = 0; udp[7] = 0;
        payload.CopyTo(udp[UdpHeaderLength..]);
        ushort checksum = TransportChecksum(a, ProtocolUdp, udp);
        // RFC 768: a computed checksum of zero is sent as all ones (zero means "none" over IPv4).
        if (checksum == 0) checksum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], checksum);
        return EthernetHeaderLength + ipLength + l4Length;
    }

    public static int HeadersLength(bool ipv6, int tcpOptionsLength) =>
        EthernetHeaderLength + (ipv6 ? Ipv6HeaderLength : Ipv4HeaderLength) + TcpHeaderLength + tcpOptionsLength;

    /// <summary>
    /// Ethernet II header (destination MAC, source MAC, EtherType 0x0800 / 0x86DD), then the IP
    /// header; returns the IP header length.
    /// <code>
    ///  IPv4 (RFC 791 section 3.1)                          IPv6 (RFC 8200 section 3)
    /// |Version|  IHL  |Type of Service|     Total Length    | |Version| Traffic Class |      Flow Label       |
    /// |        Identification         |Flags| Frag Offset   | |    Payload Length     |  Next Header  | Hop Limit |
    /// | Time to Live  |   Protocol    |   Header Checksum   | |              Source Address (128)             |
    /// |                Source Address (32)                  | |           Destination Address (128)           |
    /// |              Destination Address (32)               |
    /// </code>
    /// </summary>
    private static int WriteLinkAndIp(Span<byte> frame, in FrameAddressing a, ushort ipId, byte protocol, int l4Length)
    {
        // Ethernet II: destination MAC, source MAC, EtherType.
        a.Destination.Mac.CopyTo(frame);
        a.Source.Mac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], a.Ipv6 ? (ushort)0x86DD : (ushort)0x0800);
        Span<byte> ip = frame[EthernetHeaderLength..];
        if (a.Ipv6)
        {
            // RFC 8200 section 3: version 6, traffic class 0, flow label 0.
            BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6000_0000);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4Length);
            ip[6] = protocol;
            ip[7] = 64;
            a.Source.Address(true).CopyTo(ip[8..]);
            a.Destination.Address(true).CopyTo(ip[24..]);
            return Ipv6HeaderLength;
        }
        // RFC 791 section 3.1: version 4, IHL 5, DSCP 0, total length, id, DF, TTL 64, checksum.
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(Ipv4HeaderLength + l4Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
        ip[8] = 64;
        ip[9] = protocol;
        ip[10] = 0; ip[11] = 0;
        a.Source.Ipv4.CopyTo(ip[12..]);
        a.Destination.Ipv4.CopyTo(ip[16..]);
        var sum = new InternetChecksum();
        sum.Add(ip[..Ipv4HeaderLength]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], sum.Finish());
        return Ipv4HeaderLength;
    }

    /// <summary>TCP/UDP checksum over the pseudo-header (RFC 9293 3.1, RFC 8200 8.1) and the segment.</summary>
    private static ushort TransportChecksum(in FrameAddressing a, byte protocol, ReadOnlySpan<byte> segment)
    {
        var sum = new InternetChecksum();
        sum.Add(a.Source.Address(a.Ipv6));
        sum.Add(a.Destination.Address(a.Ipv6));
        sum.Add(protocol);
        sum.Add((ushort)(segment.Length >> 16));
        sum.Add((ushort)segment.Length);
        sum.Add(segment);
        return sum.Finish();
    }
}
