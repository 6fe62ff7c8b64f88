namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Reads a domain name (RFC 1035 §3.1, §4.1.4) with message compression. Every hostile shape ends
/// in an anomaly instead of a loop or an exception: pointers that revisit a target
/// (dns_pointer_loop, including a pointer to itself), too many hops (dns_pointer_hops_exceeded),
/// names over 255 octets (dns_name_too_long), pointers or labels past the end (dns_truncated).
/// Forward pointers are followed (tshark does too); only revisits are loops.
/// </summary>
internal static class DnsNameReader
{
    /// <summary>Longest name in wire form, RFC 1035 §2.3.4.</summary>
    public const int MaxNameOctets = 255;

    /// <summary>
    /// Reads the name at <paramref name="offset"/> and advances it past the name's bytes in place
    /// (a pointer ends the in-place part). Returns null and sets <paramref name="anomaly"/> on failure.
    /// </summary>
    public static string? Read(ReadOnlySpan<byte> message, ref int offset, int maxHops, out DnsAnomaly? anomaly)
    {
        anomaly = null;
        Span<ushort> visited = stackalloc ushort[Math.Clamp(maxHops, 1, 256)];
        int hops = 0;
        int pos = offset;
        int endOfInPlace = -1;
        int wireLength = 1; // the root label's zero octet
        // 255 wire octets at most; a byte shown as \DDD takes 4 chars
        Span<char> text = stackalloc char[MaxNameOctets * 4];
        int length = 0;

        while (true)
        {
            if (pos >= message.Length) { anomaly = DnsAnomaly.Truncated; return null; }
            byte len = message[pos];
            switch (len & 0xC0)
            {
                case 0x00:
                    if (len == 0)
                    {
                        offset = endOfInPlace >= 0 ? endOfInPlace : pos + 1;
                        return length == 0 ? "<Root>" : new string(text[..length]);
                    }
                    if (pos + 1 + len > message.Length) { anomaly = DnsAnomaly.Truncated; return null; }
                    wireLength += 1 + len;
                    if (wireLength > MaxNameOctets) { anomaly = DnsAnomaly.NameTooLong; return null; }
                    if (length > 0) text[length++] = '.';
                    length = AppendLabel(text, length, message.Slice(pos + 1, len));
                    pos += 1 + len;
                    break;
                case 0xC0:
                    if (pos + 2 > message.Length) { anomaly = DnsAnomaly.Truncated; return null; }
                    int target = ((len & 0x3F) << 8) | message[pos + 1];
                    if (endOfInPlace < 0) endOfInPlace = pos + 2;
                    if (visited[..hops].Contains((ushort)target) || target == pos) { anomaly = DnsAnomaly.PointerLoop; return null; }
                    if (hops == visited.Length || hops >= maxHops) { anomaly = DnsAnomaly.PointerHopsExceeded; return null; }
                    visited[hops++] = (ushort)target;
                    pos = target;
                    break;
                default:
                    anomaly = DnsAnomaly.BadLabelType;
                    return null;
            }
        }
    }

    private static int AppendLabel(Span<char> text, int length, ReadOnlySpan<byte> label)
    {
        // Printable ASCII (and space, as tshark shows mDNS instance names) as is; everything else as \DDD (RFC 4343 §2.1 presentation escapes).
        foreach (byte b in label)
        {
            if (b >= 0x20 && b < 0x7F)
            {
                text[length++] = (char)b;
                continue;
            }
            text[length++] = '\\';
            text[length++] = (char)('0' + b / 100);
            text[length++] = (char)('0' + b / 10 % 10);
            text[length++] = (char)('0' + b % 10);
        }
        return length;
    }
}
