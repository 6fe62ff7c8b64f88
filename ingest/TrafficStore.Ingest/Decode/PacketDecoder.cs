using System.Buffers.Binary;
using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Decode;

/// <summary>
/// Decodes captured frames down to TCP or UDP: link layer (Ethernet with any number of
/// 802.1Q/802.1ad tags, LLC/SNAP, MPLS and PPPoE; Linux SLL/SLL2, BSD NULL/LOOP, raw IP), IPv4 with options, IPv6 with
/// extension headers, IP-in-IP / 6in4 / GRE tunnels (the innermost IP header wins), IP fragment
/// reassembly, and the TCP/UDP header. Never throws on packet contents and allocates nothing
/// per frame. Not thread-safe: one decoder per capture.
/// <para>
/// Lengths follow tshark: each layer's "reported" length is what the frame had on the wire
/// (frame.len) minus the headers before it, cut to the IP header's own total length (so Ethernet
/// padding never becomes payload). <see cref="DecodedPacket.PayloadLength"/> is therefore tcp.len
/// even when the capture kept only the headers.
/// </para>
/// </summary>
public sealed class PacketDecoder
{
    private const ushort EtherTypeIpv4 = 0x0800;
    private const ushort EtherTypeIpv6 = 0x86DD;
    private const ushort EtherTypeVlan = 0x8100;
    private const ushort EtherTypeQinQ = 0x88A8;
    private const ushort EtherTypeQinQOld = 0x9100;
    private const ushort EtherTypeTransparentEthernet = 0x6558;
    private const ushort EtherTypeMplsUnicast = 0x8847;
    private const ushort EtherTypeMplsMulticast = 0x8848;
    private const ushort EtherTypePppoeSession = 0x8864;

    private const byte ProtoHopByHop = 0;
    private const byte ProtoIcmp = 1;
    private const byte ProtoIpInIp = 4;
    private const byte ProtoTcp = 6;
    private const byte ProtoUdp = 17;
    private const byte ProtoIpv6 = 41;
    private const byte ProtoRouting = 43;
    private const byte ProtoFragment = 44;
    private const byte ProtoGre = 47;
    private const byte ProtoEsp = 50;
    private const byte ProtoAh = 51;
    private const byte ProtoNoNext = 59;
    private const byte ProtoDestinationOptions = 60;
    private const byte ProtoMobility = 135;
    private const byte ProtoHip = 139;
    private const byte ProtoShim6 = 140;

    private readonly DecoderOptions _options;
    private readonly IpFragmentReassembler _reassembler;

    public PacketDecoder(DecoderOptions? options = null)
    {
        _options = options ?? DecoderOptions.Default;
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxPendingDatagrams, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxPendingFragmentBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.FragmentTimeout, TimeSpan.Zero, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxTunnelDepth, nameof(options));
        Statistics = new DecoderStatistics();
        _reassembler = new IpFragmentReassembler(_options, Statistics);
    }

    public DecoderStatistics Statistics { get; }

    /// <summary>The first anomaly recorded while decoding the last frame (None when there was none).</summary>
    public DecodeAnomaly LastAnomaly { get; private set; }

    /// <summary>Datagrams waiting for more fragments.</summary>
    public int PendingFragmentDatagrams => _reassembler.PendingCount;

    /// <summary>Decodes one frame.</summary>
    /// <param name="frame">The frame as a capture source handed it out.</param>
    /// <param name="packet">Headers; filled as far as the frame allowed whatever the status.</param>
    /// <param name="payload">
    /// The captured L4 payload for <see cref="DecodeStatus.Decoded"/> (may be shorter than
    /// <see cref="DecodedPacket.PayloadLength"/> when the snaplen cut it). It points into the
    /// frame's data or, for a reassembled datagram, into the decoder's own buffer; valid until the
    /// next call to Decode or the next read from the capture source, whichever comes first.
    /// </param>
    public DecodeStatus Decode(scoped in CaptureFrame frame, out DecodedPacket packet, out ReadOnlySpan<byte> payload) =>
        Decode(frame.Data, frame.LinkType, frame.Number, frame.TimestampNs, frame.OriginalLength, frame.InterfaceId, out packet, out payload);

    /// <summary>Decodes one frame given as its parts (live capture, tests).</summary>
    public DecodeStatus Decode(ReadOnlySpan<byte> data, LinkType linkType, long frameNumber, long timestampNs, int originalLength,
        int interfaceId, out DecodedPacket packet, out ReadOnlySpan<byte> payload)
    {
        packet = default;
        packet.FrameNumber = frameNumber;
        packet.TimestampNs = timestampNs;
        packet.FrameLength = originalLength;
        packet.InterfaceId = interfaceId;
        packet.VlanId = -1;
        packet.WindowScale = -1;
        packet.PayloadLength = -1;
        payload = default;
        LastAnomaly = DecodeAnomaly.None;
        Statistics.Frames++;

        // Timeouts concern other datagrams, not this frame: counted in Statistics only.
        if (_reassembler.PendingCount > 0) _reassembler.Expire(timestampNs);
        var anomaly = DecodeAnomaly.None;
        int reported = Math.Max(originalLength, data.Length);
        var status = DecodeLink(data, reported, linkType, ref packet, ref anomaly, out payload);
        LastAnomaly = anomaly;
        Count(status, in packet);
        return status;
    }

    /// <summary>
    /// Ends the capture: datagrams still waiting for fragments are dropped and counted as
    /// <c>fragment_incomplete</c>.
    /// </summary>
    public void FinishCapture() => _reassembler.Clear();

    private void Count(DecodeStatus status, in DecodedPacket packet)
    {
        var s = Statistics;
        switch (status)
        {
            case DecodeStatus.Decoded:
                if (packet.IsTcp) s.DecodedTcp++; else s.DecodedUdp++;
                if (packet.Reassembled) s.Reassembled++;
                break;
            case DecodeStatus.OtherIp:
                s.OtherIp++;
                if (packet.Reassembled) s.Reassembled++;
                break;
            case DecodeStatus.NotIp: s.NotIp++; break;
            case DecodeStatus.FragmentHeld: s.FragmentsHeld++; break;
            case DecodeStatus.Malformed: s.Malformed++; break;
            case DecodeStatus.UnsupportedLinkType: s.UnsupportedLinkType++; break;
        }
    }

    private DecodeStatus Fail(DecodeAnomaly kind, scoped ref DecodeAnomaly anomaly)
    {
        Note(kind, ref anomaly);
        return DecodeStatus.Malformed;
    }

    private void Note(DecodeAnomaly kind, scoped ref DecodeAnomaly anomaly)
    {
        Statistics.Record(kind);
        if (anomaly == DecodeAnomaly.None) anomaly = kind;
    }

    // ---------------------------------------------------------------- link layer

    private DecodeStatus DecodeLink(ReadOnlySpan<byte> data, int reported, LinkType linkType,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        switch (linkType)
        {
            case LinkType.Ethernet:
                return DecodeEthernet(data, reported, 0, ref packet, ref anomaly, out payload);

            case LinkType.LinuxSll:
            {
                // Linux cooked v1 (16 bytes): packet type (2), ARPHRD type (2), address length (2),
                // address (8), protocol (2). Protocol values below 0x0600 are Linux's own
                // pseudo-types (802.2 LLC, 802.3, CAN ...), never IP.
                if (data.Length < 16) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
                return DecodeEtherType(protocol, data[16..], reported - 16, 0, ref packet, ref anomaly, out payload);
            }

            case LinkType.LinuxSll2:
            {
                // Linux cooked v2 (20 bytes): protocol (2), reserved (2), interface index (4),
                // ARPHRD type (2), packet type (1), address length (1), address (8).
                if (data.Length < 20) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                ushort protocol = BinaryPrimitives.ReadUInt16BigEndian(data);
                return DecodeEtherType(protocol, data[20..], reported - 20, 0, ref packet, ref anomaly, out payload);
            }

            case LinkType.Null:
            case LinkType.Loop:
            {
                // 4-byte address family: NULL in the capturing host's byte order (so a value with
                // upper bits set was written big-endian), LOOP always in network order.
                if (data.Length < 4) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                uint family = linkType == LinkType.Loop
                    ? BinaryPrimitives.ReadUInt32BigEndian(data)
                    : BinaryPrimitives.ReadUInt32LittleEndian(data);
                if ((family & 0xFFFF0000) != 0) family = BinaryPrimitives.ReverseEndianness(family);
                return family switch
                {
                    2 => DecodeIpv4(data[4..], reported - 4, 0, ref packet, ref anomaly, out payload),
                    // AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
                    24 or 28 or 30 or 10 => DecodeIpv6(data[4..], reported - 4, 0, ref packet, ref anomaly, out payload),
                    _ => DecodeStatus.NotIp,
                };
            }

            case LinkType.Raw:
            case LinkType.RawBsd12:
            case LinkType.RawBsd14:
                return DecodeIpByVersion(data, reported, 0, ref packet, ref anomaly, out payload);

            case LinkType.Ipv4:
                return DecodeIpv4(data, reported, 0, ref packet, ref anomaly, out payload);

            case LinkType.Ipv6:
                return DecodeIpv6(data, reported, 0, ref packet, ref anomaly, out payload);

            default:
                Note(DecodeAnomaly.UnsupportedLinkType, ref anomaly);
                return DecodeStatus.UnsupportedLinkType;
        }
    }

    private DecodeStatus DecodeIpByVersion(ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (data.Length < 1) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
        return (data[0] >> 4) switch
        {
            4 => DecodeIpv4(data, reported, depth, ref packet, ref anomaly, out payload),
            6 => DecodeIpv6(data, reported, depth, ref packet, ref anomaly, out payload),
            _ => Fail(DecodeAnomaly.BadIpVersion, ref anomaly),
        };
    }

    // Ethernet II (IEEE 802.3 clause 3): destination (6), source (6), EtherType/length (2).
    // A value up to 1500 is an 802.3 length with an LLC header after it.
    private DecodeStatus DecodeEthernet(ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (data.Length < 14) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        data = data[14..];
        reported -= 14;
        if (type <= 1500)
        {
            // IEEE 802.3 length field. IP can still ride in it with an RFC 1042 LLC/SNAP header:
            // DSAP 0xAA, SSAP 0xAA, control 0x03, OUI 00-00-00, then an EtherType.
            if (data.Length >= 8 && data[0] == 0xAA && data[1] == 0xAA && data[2] == 0x03 && data[3] == 0 && data[4] == 0 && data[5] == 0)
                return DecodeEtherType(BinaryPrimitives.ReadUInt16BigEndian(data[6..]), data[8..], reported - 8, depth, ref packet, ref anomaly, out payload);
            return DecodeStatus.NotIp;
        }
        return DecodeEtherType(type, data, reported, depth, ref packet, ref anomaly, out payload);
    }

    // 802.1Q / 802.1ad tags (4 bytes each): TCI (PCP 3 bits, DEI 1, VID 12), inner EtherType (2).
    // Any number of them may be stacked; the outermost VID is reported.
    private DecodeStatus DecodeEtherType(ushort type, ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        while (type is EtherTypeVlan or EtherTypeQinQ or EtherTypeQinQOld)
        {
            if (data.Length < 4) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
            if (packet.VlanId < 0) packet.VlanId = (short)(BinaryPrimitives.ReadUInt16BigEndian(data) & 0x0FFF);
            type = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            data = data[4..];
            reported -= 4;
        }
        switch (type)
        {
            case EtherTypeIpv4:
                return DecodeIpv4(data, reported, depth, ref packet, ref anomaly, out payload);
            case EtherTypeIpv6:
                return DecodeIpv6(data, reported, depth, ref packet, ref anomaly, out payload);
            case EtherTypeMplsUnicast:
            case EtherTypeMplsMulticast:
            {
                // RFC 3032 section 2.1: label stack entries of 4 bytes (label 20, TC 3, S 1, TTL 8)
                // until the bottom-of-stack bit; the payload type is not signalled, so IP is
                // recognised by its version nibble (what tshark's heuristic does too).
                while (true)
                {
                    if (data.Length < 4) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                    bool bottom = (data[2] & 0x01) != 0;
                    data = data[4..];
                    reported -= 4;
                    if (bottom) break;
                }
                if (data.Length < 1) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                int version = data[0] >> 4;
                return version is 4 or 6 ? DecodeIpByVersion(data, reported, depth, ref packet, ref anomaly, out payload) : DecodeStatus.NotIp;
            }
            case EtherTypePppoeSession:
            {
                // RFC 2516 section 5: ver/type (1), code (1), session id (2), length (2), then the
                // PPP protocol field (2): 0x0021 IPv4, 0x0057 IPv6 (RFC 1332, RFC 5072).
                if (data.Length < 8) return Fail(DecodeAnomaly.TruncatedLink, ref anomaly);
                ushort pppProtocol = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
                return pppProtocol switch
                {
                    0x0021 => DecodeIpv4(data[8..], reported - 8, depth, ref packet, ref anomaly, out payload),
                    0x0057 => DecodeIpv6(data[8..], reported - 8, depth, ref packet, ref anomaly, out payload),
                    _ => DecodeStatus.NotIp,
                };
            }
            default:
                return DecodeStatus.NotIp;
        }
    }

    // ---------------------------------------------------------------- IPv4

    // RFC 791 section 3.1:
    //  0                   1                   2                   3
    //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Version|  IHL  |Type of Service|          Total Length         |
    // |         Identification        |Flags|      Fragment Offset    |
    // |  Time to Live |    Protocol   |         Header Checksum       |
    // |                       Source Address                          |
    // |                    Destination Address                        |
    // |                    Options                    |    Padding    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    private DecodeStatus DecodeIpv4(ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        packet.IpVersion = 4;
        if (data.Length < 1) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
        if (data[0] >> 4 != 4) return Fail(DecodeAnomaly.BadIpVersion, ref anomaly);
        if (data.Length < 20) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);

        int headerLength = (data[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        ushort identification = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        ushort flagsAndOffset = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        byte protocol = data[9];
        packet.Ttl = data[8];
        packet.Protocol = (IpProtocol)protocol;
        packet.Source = NetAddress.V4(BinaryPrimitives.ReadUInt32BigEndian(data[12..]));
        packet.Destination = NetAddress.V4(BinaryPrimitives.ReadUInt32BigEndian(data[16..]));

        if (headerLength < 20) return Fail(DecodeAnomaly.BadIpHeaderLength, ref anomaly);
        if (data.Length < headerLength) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
        // Total length 0 is what TCP segmentation offload leaves in locally captured packets:
        // take the frame's length, as tshark does.
        if (totalLength == 0) totalLength = reported;
        if (totalLength < headerLength) return Fail(DecodeAnomaly.BadIpTotalLength, ref anomaly);
        if (totalLength > reported)
        {
            Note(DecodeAnomaly.IpLengthExceedsFrame, ref anomaly);
            totalLength = reported;
        }

        // Cut to the datagram: anything after total length is link-layer padding or trailer.
        var body = data[headerLength..Math.Min(totalLength, data.Length)];
        int bodyReported = totalLength - headerLength;

        bool moreFragments = (flagsAndOffset & 0x2000) != 0;
        int fragmentOffset = (flagsAndOffset & 0x1FFF) * 8;
        if (moreFragments || fragmentOffset != 0)
        {
            var key = new IpFragmentReassembler.DatagramKey(packet.Source, packet.Destination, identification, protocol, 4);
            return AddFragment(key, fragmentOffset, moreFragments, body, bodyReported, protocol, depth, ref packet, ref anomaly, out payload);
        }
        return DecodeTransport(protocol, body, bodyReported, depth, ref packet, ref anomaly, out payload);
    }

    // ---------------------------------------------------------------- IPv6

    // RFC 8200 section 3:
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    // |Version| Traffic Class |           Flow Label                  |
    // |         Payload Length        |  Next Header  |   Hop Limit   |
    // |                Source Address (16 bytes)                      |
    // |             Destination Address (16 bytes)                    |
    // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    private DecodeStatus DecodeIpv6(ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        packet.IpVersion = 6;
        if (data.Length < 1) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
        if (data[0] >> 4 != 6) return Fail(DecodeAnomaly.BadIpVersion, ref anomaly);
        if (data.Length < 40) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);

        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        byte nextHeader = data[6];
        packet.Ttl = data[7];
        packet.Protocol = (IpProtocol)nextHeader;
        packet.Source = NetAddress.FromBytes(data.Slice(8, 16));
        packet.Destination = NetAddress.FromBytes(data.Slice(24, 16));

        int available = reported - 40;
        // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675): use the frame's length.
        if (payloadLength == 0 && nextHeader == ProtoHopByHop) payloadLength = available;
        if (payloadLength > available)
        {
            Note(DecodeAnomaly.IpLengthExceedsFrame, ref anomaly);
            payloadLength = available;
        }
        var body = data[40..Math.Min(40 + payloadLength, data.Length)];
        return DecodeIpv6Headers(nextHeader, body, payloadLength, depth, fragmentAllowed: true, ref packet, ref anomaly, out payload);
    }

    // Extension headers (RFC 8200 section 4): hop-by-hop, routing, destination options and the
    // other "generic" ones carry next header (1) and length in 8-octet units not counting the
    // first 8 (1); AH (RFC 4302 section 2.2) counts 4-octet units minus 2; the fragment header is
    // 8 bytes. ESP and "no next header" end the chain.
    private DecodeStatus DecodeIpv6Headers(byte nextHeader, ReadOnlySpan<byte> data, int reported, int depth, bool fragmentAllowed,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        while (true)
        {
            packet.Protocol = (IpProtocol)nextHeader;
            int length;
            switch (nextHeader)
            {
                case ProtoHopByHop:
                case ProtoRouting:
                case ProtoDestinationOptions:
                case ProtoMobility:
                case ProtoHip:
                case ProtoShim6:
                    if (data.Length < 2) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
                    length = (data[1] + 1) * 8;
                    break;
                case ProtoAh:
                    if (data.Length < 2) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
                    length = (data[1] + 2) * 4;
                    break;
                case ProtoFragment:
                {
                    // Fragment header: next header (1), reserved (1), offset (13 bits) | res (2) | M (1), identification (4).
                    if (data.Length < 8) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
                    byte fragmentNext = data[0];
                    ushort offsetField = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
                    uint identification = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    int offset = offsetField & 0xFFF8;
                    bool more = (offsetField & 1) != 0;
                    if (offset == 0 && !more)
                    {
                        // An atomic fragment (RFC 6946): the whole datagram, processed in place.
                        nextHeader = fragmentNext;
                        data = data[8..];
                        reported -= 8;
                        continue;
                    }
                    if (!fragmentAllowed) return Fail(DecodeAnomaly.FragmentInconsistent, ref anomaly);
                    packet.Protocol = (IpProtocol)fragmentNext;
                    var key = new IpFragmentReassembler.DatagramKey(packet.Source, packet.Destination, identification, 0, 6);
                    return AddFragment(key, offset, more, data[8..], reported - 8, fragmentNext, depth, ref packet, ref anomaly, out payload);
                }
                case ProtoEsp:
                case ProtoNoNext:
                    return DecodeStatus.OtherIp;
                default:
                    return DecodeTransport(nextHeader, data, reported, depth, ref packet, ref anomaly, out payload);
            }
            if (length > reported) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
            if (length > data.Length) return Fail(DecodeAnomaly.TruncatedIp, ref anomaly);
            nextHeader = data[0];
            data = data[length..];
            reported -= length;
        }
    }

    // ---------------------------------------------------------------- fragments

    private DecodeStatus AddFragment(scoped in IpFragmentReassembler.DatagramKey key, int offset, bool more, ReadOnlySpan<byte> data,
        int reported, byte firstProtocol, int depth, scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (!_options.ReassembleFragments) return DecodeStatus.OtherIp;
        // A fragment the snaplen cut cannot be used: its datagram would have a hole.
        if (data.Length < reported) return Fail(DecodeAnomaly.FragmentTruncated, ref anomaly);

        var result = _reassembler.Add(key, offset, more, data, firstProtocol, packet.TimestampNs, ref anomaly,
            out var datagram, out byte protocol);
        switch (result)
        {
            case IpFragmentReassembler.AddResult.Completed:
                packet.Reassembled = true;
                packet.Protocol = (IpProtocol)protocol;
                return key.Version == 6
                    ? DecodeIpv6Headers(protocol, datagram, datagram.Length, depth, fragmentAllowed: false, ref packet, ref anomaly, out payload)
                    : DecodeTransport(protocol, datagram, datagram.Length, depth, ref packet, ref anomaly, out payload);
            case IpFragmentReassembler.AddResult.Held:
                return DecodeStatus.FragmentHeld;
            default:
                return DecodeStatus.Malformed;
        }
    }

    // ---------------------------------------------------------------- transport and tunnels

    private DecodeStatus DecodeTransport(byte protocol, ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        packet.Protocol = (IpProtocol)protocol;
        switch (protocol)
        {
            case ProtoTcp:
                return DecodeTcp(data, reported, ref packet, ref anomaly, out payload);
            case ProtoUdp:
                return DecodeUdp(data, reported, ref packet, ref anomaly, out payload);
            case ProtoIpInIp:
                if (depth >= _options.MaxTunnelDepth) { Note(DecodeAnomaly.TunnelDepthLimit, ref anomaly); return DecodeStatus.OtherIp; }
                return DecodeIpv4(data, reported, depth + 1, ref packet, ref anomaly, out payload);
            case ProtoIpv6:
                if (depth >= _options.MaxTunnelDepth) { Note(DecodeAnomaly.TunnelDepthLimit, ref anomaly); return DecodeStatus.OtherIp; }
                return DecodeIpv6(data, reported, depth + 1, ref packet, ref anomaly, out payload);
            case ProtoGre:
                if (depth >= _options.MaxTunnelDepth) { Note(DecodeAnomaly.TunnelDepthLimit, ref anomaly); return DecodeStatus.OtherIp; }
                return DecodeGre(data, reported, depth + 1, ref packet, ref anomaly, out payload);
            default:
                // ICMP and everything else. ICMP errors quote the offending IP header and the first
                // bytes of its TCP/UDP header; that quote is deliberately not decoded as a packet.
                return DecodeStatus.OtherIp;
        }
    }

    // GRE, RFC 2784 section 2.1 with the key and sequence fields of RFC 2890:
    // |C| |K|S| Reserved0       | Ver |         Protocol Type         |
    // |      Checksum (optional)      |       Reserved1 (optional)    |
    // |                         Key (optional)                        |
    // |                 Sequence Number (optional)                    |
    private DecodeStatus DecodeGre(ReadOnlySpan<byte> data, int reported, int depth,
        scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (data.Length < 4) return Fail(DecodeAnomaly.BadGreHeader, ref anomaly);
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(data);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        if ((flags & 0x7) != 0) return DecodeStatus.OtherIp; // version 1 is PPTP's enhanced GRE (PPP inside)
        int length = 4 + ((flags & 0x8000) != 0 ? 4 : 0) + ((flags & 0x2000) != 0 ? 4 : 0) + ((flags & 0x1000) != 0 ? 4 : 0);
        if (data.Length < length) return Fail(DecodeAnomaly.BadGreHeader, ref anomaly);
        data = data[length..];
        reported -= length;
        return type switch
        {
            EtherTypeIpv4 => DecodeIpv4(data, reported, depth, ref packet, ref anomaly, out payload),
            EtherTypeIpv6 => DecodeIpv6(data, reported, depth, ref packet, ref anomaly, out payload),
            EtherTypeTransparentEthernet => DecodeEthernet(data, reported, depth, ref packet, ref anomaly, out payload),
            _ => DecodeStatus.OtherIp,
        };
    }

    // RFC 9293 section 3.1:
    // |          Source Port          |       Destination Port        |
    // |                        Sequence Number                        |
    // |                    Acknowledgment Number                      |
    // |  Data |       |N|C|E|U|A|P|R|S|F|                             |
    // | Offset| Rsrvd |S|W|C|R|C|S|S|Y|I|            Window           |
    // |           Checksum            |         Urgent Pointer        |
    // |                    Options                    |    Padding    |
    private DecodeStatus DecodeTcp(ReadOnlySpan<byte> data, int reported, scoped ref DecodedPacket packet,
        scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        packet.Protocol = IpProtocol.Tcp;
        if (data.Length >= 4)
        {
            packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(data);
            packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        }
        if (data.Length < 20) return Fail(DecodeAnomaly.TruncatedTcp, ref anomaly);

        packet.Sequence = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        packet.Acknowledgment = BinaryPrimitives.ReadUInt32BigEndian(data[8..]);
        int headerLength = (data[12] >> 4) * 4;
        packet.Flags = (TcpFlags)(((data[12] & 0x01) << 8) | data[13]);
        packet.Window = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        packet.TcpHeaderLength = (byte)headerLength;

        if (headerLength < 20)
        {
            // tshark still analyses such a segment with seglen = reported - hlen
            // (tcp-analysis-rules.md section 9); report that length, keep the status Malformed.
            packet.PayloadLength = Math.Max(0, reported - headerLength);
            packet.CapturedPayloadLength = 0;
            return Fail(DecodeAnomaly.BadTcpHeaderLength, ref anomaly);
        }
        if (headerLength > reported)
        {
            packet.PayloadLength = 0;
            return Fail(DecodeAnomaly.BadTcpHeaderLength, ref anomaly);
        }

        var options = data[20..Math.Min(headerLength, data.Length)];
        if (headerLength > data.Length) Note(DecodeAnomaly.TruncatedTcpOptions, ref anomaly);
        ParseTcpOptions(options, headerLength > data.Length, ref packet, ref anomaly);

        packet.PayloadLength = reported - headerLength;
        if (data.Length > headerLength)
        {
            payload = data[headerLength..];
            packet.CapturedPayloadLength = payload.Length;
        }
        return DecodeStatus.Decoded;
    }

    // Options (RFC 9293 section 3.2): kind 0 ends the list, kind 1 is one byte of padding, every
    // other kind has a length byte counting kind and length. MSS (2, len 4), window scale
    // (3, len 3, RFC 7323 section 2.2), SACK permitted (4, len 2, RFC 2018).
    private void ParseTcpOptions(ReadOnlySpan<byte> options, bool cutBySnaplen, scoped ref DecodedPacket packet, scoped ref DecodeAnomaly anomaly)
    {
        while (options.Length > 0)
        {
            byte kind = options[0];
            if (kind == 0) return;
            if (kind == 1) { options = options[1..]; continue; }
            if (options.Length < 2)
            {
                if (!cutBySnaplen) Note(DecodeAnomaly.BadTcpOption, ref anomaly);
                return;
            }
            int length = options[1];
            if (length < 2 || length > options.Length)
            {
                if (!(cutBySnaplen && length >= 2)) Note(DecodeAnomaly.BadTcpOption, ref anomaly);
                return;
            }
            switch (kind)
            {
                case 2 when length == 4:
                    packet.Mss = BinaryPrimitives.ReadUInt16BigEndian(options[2..]);
                    break;
                case 3 when length == 3:
                    packet.WindowScale = (sbyte)Math.Min(options[2], (byte)127);
                    break;
                case 4 when length == 2:
                    packet.SackPermitted = true;
                    break;
            }
            options = options[length..];
        }
    }

    // RFC 768: source port (2), destination port (2), length (2), checksum (2).
    private DecodeStatus DecodeUdp(ReadOnlySpan<byte> data, int reported, scoped ref DecodedPacket packet,
        scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        packet.Protocol = IpProtocol.Udp;
        if (data.Length >= 4)
        {
            packet.SourcePort = BinaryPrimitives.ReadUInt16BigEndian(data);
            packet.DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
        }
        if (data.Length < 8) return Fail(DecodeAnomaly.TruncatedUdp, ref anomaly);
        int length = BinaryPrimitives.ReadUInt16BigEndian(data[4..]);
        // Length 0 is legal for IPv6 jumbograms (RFC 2675 section 4): the IP length rules.
        if (length == 0 && packet.IpVersion == 6) length = reported;
        if (length < 8)
        {
            packet.PayloadLength = 0;
            return Fail(DecodeAnomaly.BadUdpLength, ref anomaly);
        }
        if (length > reported)
        {
            Note(DecodeAnomaly.BadUdpLength, ref anomaly);
            length = reported;
        }
        packet.PayloadLength = length - 8;
        payload = data[8..Math.Min(length, data.Length)];
        packet.CapturedPayloadLength = payload.Length;
        return DecodeStatus.Decoded;
    }
}
