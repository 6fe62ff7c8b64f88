using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TrafficStore.Ingest.Capture;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// Splits a frame into its headers (link, IP, TCP/UDP: everything before the L4 payload) and the rest,
/// and writes the headers as a <em>template</em>: the fields that a reader can predict from the rest of the
/// frame are stored XORed with that prediction, so they read 0 whenever the prediction holds and the
/// headers of one flow repeat byte for byte (zstd then stores each as one short back-reference).
/// <see cref="Restore"/> undoes it exactly. Correctness never depends on a prediction being right — only
/// on both sides computing the same one — so odd frames (bad checksums, padding, truncation, lying length
/// fields) round-trip byte for byte, only less compactly.
/// </summary>
/// <remarks>
/// <para>Predicted fields, and the order <see cref="Restore"/> undoes them in (each prediction depends only on
/// bytes restored before it):</para>
/// <list type="number">
/// <item>IPv4 total length (RFC 791 §3.1), IPv6 payload length (RFC 8200 §3), UDP length (RFC 768): from the
/// captured length (frame bytes after the header that holds them).</item>
/// <item>IPv4 header checksum (RFC 791 §3.1, RFC 1071): computed over the IPv4 header.</item>
/// <item>TCP checksum (RFC 9293 §3.1), UDP checksum (RFC 768): computed over the pseudo-header and the
/// segment, when the IP length says the whole segment is in the frame; else predicted 0 (kept as is).</item>
/// </list>
/// <para>Measured on mixed-large and synthetic (docs/benchmarks.md, "Packets v4"): lifting IP id, TCP
/// sequence/acknowledgement numbers or timestamps into integer columns did not pay — a reader sees single
/// rows (queries filter), so they could only be stored absolute, and zstd already codes them as well inline.</para>
/// <para>What is parsed: Ethernet with up to <see cref="MaxVlanTags"/> 802.1Q/802.1ad tags, Linux cooked
/// (SLL, SLL2) and raw IP link types; IPv4 with options; IPv6 with hop-by-hop, routing and destination
/// options extension headers; then TCP (with options) or UDP. An IP fragment, another L4 protocol or an
/// extension header not listed ends the header after the IP layer. A frame without an IP layer this
/// parser understands (other link types, ARP, truncated headers) is not split: the caller stores it whole.</para>
/// </remarks>
internal static class FrameHeaders
{
    /// <summary>802.1Q/802.1ad tags skipped before giving up on a frame (QinQ uses two).</summary>
    public const int MaxVlanTags = 4;
    /// <summary>IPv6 extension headers walked before giving up on finding TCP/UDP.</summary>
    public const int MaxIpv6ExtensionHeaders = 8;

    private const byte Tcp = 6, Udp = 17;

    /// <summary>Where a frame's headers are; <see cref="HeaderLength"/> 0 when the frame is not split.</summary>
    internal readonly record struct Layout(int HeaderLength, int Ip, int IpVersion, int L4, byte L4Protocol)
    {
        public bool IsSplit => HeaderLength > 0;
    }

    /// <summary>
    /// Writes the template of the frame's headers (<paramref name="layout"/>, from <see cref="Parse"/>: its first
    /// HeaderLength bytes) into <paramref name="template"/>.
    /// </summary>
    public static void WriteTemplate(in Layout layout, ReadOnlySpan<byte> frame, Span<byte> template)
    {
        if (template.Length != layout.HeaderLength) throw new ArgumentException("template length is not the frame's header length", nameof(template));
        frame[..layout.HeaderLength].CopyTo(template);
        // Every prediction is taken on the frame as captured: the fields it depends on are the actual ones,
        // as they are again when Restore computes it.
        XorLengths(layout, frame.Length, template);
        if (layout.IpVersion == 4) Xor16(template, layout.Ip + 10, Ipv4HeaderChecksum(frame, layout.Ip));
        if (layout.L4 >= 0) Xor16(template, layout.L4 + ChecksumOffset(layout.L4Protocol), L4Checksum(frame, layout));
    }

    /// <summary>
    /// Puts the predicted fields back into <paramref name="frame"/> (a template followed by the rest of the frame)
    /// in place. <paramref name="headerLength"/> is the template's length; a frame that does not parse to it
    /// (stored by another version of these rules, or damaged) is left as it is and false returned.
    /// </summary>
    public static bool Restore(LinkType link, Span<byte> frame, int headerLength)
    {
        var layout = Parse(link, frame);
        if (layout.HeaderLength != headerLength) return false;
        XorLengths(layout, frame.Length, frame);
        if (layout.IpVersion == 4) Xor16(frame, layout.Ip + 10, Ipv4HeaderChecksum(frame, layout.Ip));
        if (layout.L4 >= 0) Xor16(frame, layout.L4 + ChecksumOffset(layout.L4Protocol), L4Checksum(frame, layout));
        return true;
    }

    private static int ChecksumOffset(byte protocol) => protocol == Tcp ? 16 : 6;

    private static void XorLengths(in Layout layout, int frameLength, Span<byte> bytes)
    {
        if (layout.IpVersion == 4) Xor16(bytes, layout.Ip + 2, frameLength - layout.Ip);
        else Xor16(bytes, layout.Ip + 4, frameLength - layout.Ip - 40);
        if (layout.L4 >= 0 && layout.L4Protocol == Udp) Xor16(bytes, layout.L4 + 4, frameLength - layout.L4);
    }

    private static void Xor16(Span<byte> bytes, int offset, int prediction)
    {
        var field = bytes.Slice(offset, 2);
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)(BinaryPrimitives.ReadUInt16BigEndian(field) ^ (ushort)prediction));
    }

    // ------------------------------------------------------------------ parsing

    /// <summary>
    /// Where the frame's headers are (HeaderLength 0: stored whole). Only structure fields are read (EtherType,
    /// IHL, fragment fields, Next Header, data offset), never a predicted field, so a template parses the same.
    /// </summary>
    public static Layout Parse(LinkType link, ReadOnlySpan<byte> frame)
    {
        int ip;
        int version; // from the link layer's protocol field; 0: from the IP header's own version nibble
        switch (link)
        {
            case LinkType.Ethernet:
            {
                //  0                   6                  12          14
                // +-------------------+------------------+-----------+
                // | destination MAC   | source MAC       | EtherType | (802.1Q: TPID 0x8100, TCI, then EtherType)
                int p = 12;
                if (frame.Length < p + 2) return default;
                int etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[p..]);
                for (int tags = 0; etherType is 0x8100 or 0x88A8 or 0x9100 && tags < MaxVlanTags; tags++)
                {
                    p += 4;
                    if (frame.Length < p + 2) return default;
                    etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[p..]);
                }
                ip = p + 2;
                version = EtherTypeVersion(etherType);
                if (version == 0) return default;
                break;
            }
            case LinkType.LinuxSll:
                // Linux cooked v1: packet type(2) ARPHRD(2) address length(2) address(8) protocol(2).
                if (frame.Length < 16) return default;
                ip = 16;
                version = EtherTypeVersion(BinaryPrimitives.ReadUInt16BigEndian(frame[14..]));
                if (version == 0) return default;
                break;
            case LinkType.LinuxSll2:
                // Linux cooked v2: protocol(2) reserved(2) interface index(4) ARPHRD(2) packet type(1) address length(1) address(8).
                if (frame.Length < 20) return default;
                ip = 20;
                version = EtherTypeVersion(BinaryPrimitives.ReadUInt16BigEndian(frame));
                if (version == 0) return default;
                break;
            case LinkType.Raw or LinkType.RawBsd12 or LinkType.RawBsd14:
                ip = 0; version = 0; break;
            case LinkType.Ipv4:
                ip = 0; version = 4; break;
            case LinkType.Ipv6:
                ip = 0; version = 6; break;
            default:
                return default;
        }
        if (frame.Length <= ip) return default;
        int nibble = frame[ip] >> 4;
        if (version != 0 && nibble != version) return default;
        return nibble switch
        {
            4 => ParseIpv4(frame, ip),
            6 => ParseIpv6(frame, ip),
            _ => default,
        };
    }

    private static int EtherTypeVersion(int etherType) => etherType switch { 0x0800 => 4, 0x86DD => 6, _ => 0 };

    private static Layout ParseIpv4(ReadOnlySpan<byte> frame, int ip)
    {
        // RFC 791 §3.1
        //  0                   1                   2                   3
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |Version|  IHL  |Type of Service|          Total Length         |
        // |         Identification        |Flags|      Fragment Offset    |
        // |  Time to Live |    Protocol   |         Header Checksum       |
        // |                       Source Address                          |
        // |                    Destination Address                        |
        // |                    Options                    |    Padding    |
        if (frame.Length < ip + 20) return default;
        int ihl = (frame[ip] & 0x0F) * 4;
        if (ihl < 20 || frame.Length < ip + ihl) return default;
        int end = ip + ihl;
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(frame[(ip + 6)..]) & 0x3FFF) != 0; // MF or an offset
        if (fragment) return new Layout(end, ip, 4, -1, 0);
        return WithTransport(frame, ip, 4, end, frame[ip + 9]);
    }

    private static Layout ParseIpv6(ReadOnlySpan<byte> frame, int ip)
    {
        // RFC 8200 §3
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |Version| Traffic Class |           Flow Label                  |
        // |         Payload Length        |  Next Header  |   Hop Limit   |
        // |                 Source Address (128 bits)                     |
        // |              Destination Address (128 bits)                   |
        if (frame.Length < ip + 40) return default;
        int next = frame[ip + 6];
        int end = ip + 40;
        // RFC 8200 §4.3-4.6: hop-by-hop (0), routing (43), destination options (60) share the layout
        // Next Header(1) | Hdr Ext Len(1, 8-octet units not counting the first 8) | ...
        for (int n = 0; next is 0 or 43 or 60; n++)
        {
            if (n == MaxIpv6ExtensionHeaders || frame.Length < end + 2) return new Layout(end, ip, 6, -1, 0);
            int length = (frame[end + 1] + 1) * 8;
            if (frame.Length < end + length) return new Layout(end, ip, 6, -1, 0);
            next = frame[end];
            end += length;
        }
        return WithTransport(frame, ip, 6, end, next);
    }

    private static Layout WithTransport(ReadOnlySpan<byte> frame, int ip, int version, int l4, int protocol)
    {
        if (protocol == Tcp)
        {
            // RFC 9293 §3.1
            //  0                   1                   2                   3
            // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
            // |          Source Port          |       Destination Port        |
            // |                        Sequence Number                        |
            // |                    Acknowledgment Number                      |
            // |  DOffset |Rsrvd|   Flags     |             Window            |
            // |           Checksum            |         Urgent Pointer        |
            // |                    Options (DOffset > 5)                      |
            // Data offset counts 32-bit words of header, options included.
            if (frame.Length < l4 + 20) return new Layout(l4, ip, version, -1, 0);
            int length = (frame[l4 + 12] >> 4) * 4;
            if (length < 20 || frame.Length < l4 + length) return new Layout(l4, ip, version, -1, 0);
            return new Layout(l4 + length, ip, version, l4, Tcp);
        }
        if (protocol == Udp)
        {
            // RFC 768: source port, destination port, length, checksum (2 bytes each).
            if (frame.Length < l4 + 8) return new Layout(l4, ip, version, -1, 0);
            return new Layout(l4 + 8, ip, version, l4, Udp);
        }
        return new Layout(l4, ip, version, -1, 0);
    }

    // ------------------------------------------------------------------ checksums (RFC 1071)

    private static int Ipv4HeaderChecksum(ReadOnlySpan<byte> frame, int ip)
    {
        int ihl = (frame[ip] & 0x0F) * 4;
        ulong sum = Sum(frame.Slice(ip, 10)) + Sum(frame.Slice(ip + 12, ihl - 12));
        return Finish(sum);
    }

    /// <summary>The TCP/UDP checksum the segment should carry, or 0 when the segment is not wholly in the frame.</summary>
    private static int L4Checksum(ReadOnlySpan<byte> frame, in Layout layout)
    {
        int segmentEnd;
        ulong sum;
        if (layout.IpVersion == 4)
        {
            // Pseudo-header (RFC 9293 §3.1): source, destination, zero, protocol, TCP length.
            segmentEnd = layout.Ip + BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.Ip + 2)..]);
            if (segmentEnd > frame.Length || segmentEnd < layout.HeaderLength) return 0;
            sum = Sum(frame.Slice(layout.Ip + 12, 8)) + Word(layout.L4Protocol) + Word(segmentEnd - layout.L4);
        }
        else
        {
            // Pseudo-header (RFC 8200 §8.1): source, destination, upper-layer length (32 bits), zero, next header.
            segmentEnd = layout.Ip + 40 + BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.Ip + 4)..]);
            if (segmentEnd > frame.Length || segmentEnd < layout.HeaderLength) return 0;
            sum = Sum(frame.Slice(layout.Ip + 8, 32)) + Word(layout.L4Protocol) + Word(segmentEnd - layout.L4);
        }
        int at = layout.L4 + ChecksumOffset(layout.L4Protocol);
        sum += Sum(frame[layout.L4..at]) + Sum(frame[(at + 2)..segmentEnd]);
        return Finish(sum);
    }

    /// <summary>A 16-bit big-endian word as <see cref="Sum"/> adds it (native order).</summary>
    private static ulong Word(int value) =>
        BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness((ushort)value) : (ushort)value;

    /// <summary>
    /// Ones'-complement sum of 16-bit words in native byte order (RFC 1071 §2(B): the sum is the same up to a
    /// byte swap, undone in <see cref="Finish"/>); spans must start at an even offset of the checksummed data.
    /// </summary>
    // Optimised at once, not tiered: the loop runs over every held or captured byte, and its tier-0 and instrumented
    // versions (no inlining of span/vector helpers) took 40–100 % of its samples in a 2-round ingest profile.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ulong Sum(ReadOnlySpan<byte> bytes)
    {
        ulong sum = 0;
        var words = MemoryMarshal.Cast<byte, uint>(bytes);
        int w = 0;
        if (Vector256.IsHardwareAccelerated && words.Length >= 2 * Vector256<uint>.Count)
        {
            // The same integer sum of the 32-bit words, eight at a time in 64-bit lanes (a frame's whole payload is
            // summed once per frame, so this loop is a visible part of ingest's CPU); no lane can overflow.
            var lanes = Vector256<ulong>.Zero;
            for (; w <= words.Length - Vector256<uint>.Count; w += Vector256<uint>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Create(words.Slice(w, Vector256<uint>.Count)));
                lanes += lower + upper;
            }
            sum = Vector256.Sum(lanes);
        }
        for (; w < words.Length; w++) sum += words[w];
        int i = words.Length * 4;
        if (bytes.Length - i >= 2) { sum += MemoryMarshal.Read<ushort>(bytes[i..]); i += 2; }
        if (i < bytes.Length) sum += BitConverter.IsLittleEndian ? bytes[i] : (ulong)bytes[i] << 8; // padded with a zero byte
        return sum;
    }

    private static int Finish(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        ushort folded = (ushort)~sum;
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
    }
}
