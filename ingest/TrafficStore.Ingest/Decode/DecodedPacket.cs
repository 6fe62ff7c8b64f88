namespace TrafficStore.Ingest.Decode;

public enum IpProtocol : byte
{
    Icmp = 1,
    Tcp = 6,
    Udp = 17,
    Icmpv6 = 58,
}

[Flags]
public enum TcpFlags : ushort
{
    None = 0,
    Fin = 0x001,
    Syn = 0x002,
    Rst = 0x004,
    Psh = 0x008,
    Ack = 0x010,
    Urg = 0x020,
    Ece = 0x040,
    Cwr = 0x080,
    Ns = 0x100,
}

/// <summary>
/// The headers of one decoded packet: the innermost IP header's addresses and the TCP or UDP
/// header. The L4 payload is handed out beside it as a span (see <see cref="PacketDecoder"/>),
/// so this struct can be copied and stored freely (tests build lists of them).
/// </summary>
public struct DecodedPacket
{
    /// <summary>1-based frame number in the capture (of the last fragment when IP-reassembled).</summary>
    public long FrameNumber;
    /// <summary>Nanoseconds since the Unix epoch.</summary>
    public long TimestampNs;
    /// <summary>Original length of the frame on the wire, link header included (frame.len).</summary>
    public int FrameLength;
    /// <summary>Interface the frame came from (pcapng IDB index).</summary>
    public int InterfaceId;

    public byte IpVersion;
    public NetAddress Source;
    public NetAddress Destination;
    public IpProtocol Protocol;
    public byte Ttl;
    /// <summary>True when the L4 header and payload were rebuilt from IP fragments.</summary>
    public bool Reassembled;
    /// <summary>Outermost VLAN id, or -1 when untagged.</summary>
    public short VlanId;

    public ushort SourcePort;
    public ushort DestinationPort;

    // TCP header (valid when Protocol == Tcp).
    public uint Sequence;
    public uint Acknowledgment;
    public TcpFlags Flags;
    /// <summary>The raw, unscaled 16-bit window field.</summary>
    public ushort Window;
    public byte TcpHeaderLength;
    /// <summary>MSS option value, 0 when absent.</summary>
    public ushort Mss;
    /// <summary>Window-scale option shift count, -1 when absent.</summary>
    public sbyte WindowScale;
    public bool SackPermitted;

    /// <summary>
    /// L4 payload length from the headers (tcp.len / UDP length - 8), whether or not those bytes
    /// were captured. -1 when unknown (e.g. a truncated IP header).
    /// </summary>
    public int PayloadLength;
    /// <summary>How many of the payload bytes are present in the captured data.</summary>
    public int CapturedPayloadLength;

    public readonly bool IsTcp => Protocol == IpProtocol.Tcp;
    public readonly bool IsUdp => Protocol == IpProtocol.Udp;
    public readonly bool HasFlag(TcpFlags flag) => (Flags & flag) != 0;
}
