using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Renders RDATA as readable text, close to the zone-file presentation format. Unknown types use
/// the RFC 3597 §5 generic form (<c>\# LEN HEX</c>). Malformed RDATA gives the generic form and
/// sets <c>bad</c> (anomaly dns_bad_rdata).
/// </summary>
internal static class DnsRdataFormatter
{
    public const ushort TypeA = 1, TypeNs = 2, TypeCname = 5, TypeSoa = 6, TypePtr = 12, TypeHinfo = 13, TypeMx = 15,
        TypeTxt = 16, TypeAaaa = 28, TypeLoc = 29, TypeSrv = 33, TypeDname = 39, TypeOpt = 41, TypeSvcb = 64,
        TypeHttps = 65, TypeSpf = 99, TypeCaa = 257;

    public static string Format(ReadOnlySpan<byte> message, int start, int length, ushort type, DnsOptions options, out bool bad)
    {
        bad = false;
        var rdata = message.Slice(start, length);
        string? text = type switch
        {
            TypeA => length == 4 ? new IPAddress(rdata).ToString() : null,
            TypeAaaa => length == 16 ? new IPAddress(rdata).ToString() : null,
            TypeNs or TypeCname or TypePtr or TypeDname => NameAt(message, start, start + length, options, out _),
            TypeMx => length >= 3 && NameAt(message, start + 2, start + length, options, out _) is { } mx
                ? $"{BinaryPrimitives.ReadUInt16BigEndian(rdata)} {mx}" : null,
            TypeSoa => Soa(message, start, start + length, options),
            TypeTxt or TypeSpf => CharacterStrings(rdata),
            TypeHinfo => CharacterStrings(rdata),
            TypeSrv => length >= 7 && NameAt(message, start + 6, start + length, options, out _) is { } target
                ? string.Create(CultureInfo.InvariantCulture,
                    $"{BinaryPrimitives.ReadUInt16BigEndian(rdata)} {BinaryPrimitives.ReadUInt16BigEndian(rdata[2..])} {BinaryPrimitives.ReadUInt16BigEndian(rdata[4..])} {target}")
                : null,
            TypeLoc => Loc(rdata),
            TypeCaa => Caa(rdata),
            TypeSvcb or TypeHttps => Svcb(message, start, start + length, options),
            TypeOpt => Opt(rdata),
            _ => Generic(rdata),
        };
        if (text is null)
        {
            bad = true;
            return Generic(rdata);
        }
        return text;
    }

    /// <summary>A name that must lie inside the RDATA (its in-place part ends at or before <paramref name="end"/>).</summary>
    private static string? NameAt(ReadOnlySpan<byte> message, int offset, int end, DnsOptions options, out int after)
    {
        after = offset;
        if (offset >= end) return null;
        string? name = DnsNameReader.Read(message[..end], ref after, options.MaxPointerHops, out _);
        if (name is null)
        {
            // compression pointers may point anywhere earlier in the message, not only inside RDATA
            after = offset;
            name = DnsNameReader.Read(message, ref after, options.MaxPointerHops, out _);
            if (name is null || after > end) return null;
        }
        return name;
    }

    private static string? Soa(ReadOnlySpan<byte> message, int start, int end, DnsOptions options)
    {
        // RFC 1035 §3.3.13: MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
        string? mname = NameAt(message, start, end, options, out int p);
        if (mname is null) return null;
        string? rname = NameAt(message, p, end, options, out p);
        if (rname is null || p + 20 > end) return null;
        var n = message.Slice(p, 20);
        return string.Create(CultureInfo.InvariantCulture,
            $"{mname} {rname} {BinaryPrimitives.ReadUInt32BigEndian(n)} {BinaryPrimitives.ReadUInt32BigEndian(n[4..])} {BinaryPrimitives.ReadUInt32BigEndian(n[8..])} {BinaryPrimitives.ReadUInt32BigEndian(n[12..])} {BinaryPrimitives.ReadUInt32BigEndian(n[16..])}");
    }

    /// <summary>RFC 1035 §3.3: one or more &lt;character-string&gt;s, each shown quoted.</summary>
    private static string? CharacterStrings(ReadOnlySpan<byte> rdata)
    {
        var sb = new StringBuilder();
        int p = 0;
        while (p < rdata.Length)
        {
            int len = rdata[p];
            if (p + 1 + len > rdata.Length) return null;
            if (sb.Length > 0) sb.Append(' ');
            AppendQuoted(sb, rdata.Slice(p + 1, len));
            p += 1 + len;
        }
        return sb.ToString();
    }

    private static void AppendQuoted(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        sb.Append('"');
        foreach (byte b in bytes)
        {
            if (b == '"' || b == '\\') sb.Append('\\').Append((char)b);
            else if (b >= 0x20 && b < 0x7F) sb.Append((char)b);
            else sb.Append('\\').Append(((int)b).ToString("D3", CultureInfo.InvariantCulture));
        }
        sb.Append('"');
    }

    /// <summary>RFC 1876 §3 LOC: "lat lon alt size hp vp" (e.g. 37 23 30.900 N 121 59 19.000 W 7.00m 100.00m 100.00m 2.00m).</summary>
    private static string? Loc(ReadOnlySpan<byte> rdata)
    {
        // | VERSION | SIZE | HORIZ PRE | VERT PRE | LATITUDE (32) | LONGITUDE (32) | ALTITUDE (32) |
        if (rdata.Length != 16 || rdata[0] != 0) return null;
        static string Cm(byte b) => ((b >> 4) * Math.Pow(10, b & 0xF) / 100.0).ToString("0.00", CultureInfo.InvariantCulture) + "m";
        static string Angle(uint raw, char pos, char neg)
        {
            long v = (long)raw - (1L << 31); // thousandths of an arc second, 0 at the equator / prime meridian
            char h = v >= 0 ? pos : neg;
            v = Math.Abs(v);
            long deg = v / 3_600_000, min = v / 60_000 % 60, msec = v % 60_000;
            return string.Create(CultureInfo.InvariantCulture, $"{deg} {min} {msec / 1000}.{msec % 1000:D3} {h}");
        }
        uint lat = BinaryPrimitives.ReadUInt32BigEndian(rdata[4..]);
        uint lon = BinaryPrimitives.ReadUInt32BigEndian(rdata[8..]);
        long altCm = (long)BinaryPrimitives.ReadUInt32BigEndian(rdata[12..]) - 10_000_000; // base 100,000 m below the WGS 84 ellipsoid
        string alt = (altCm / 100.0).ToString("0.00", CultureInfo.InvariantCulture) + "m";
        return $"{Angle(lat, 'N', 'S')} {Angle(lon, 'E', 'W')} {alt} {Cm(rdata[1])} {Cm(rdata[2])} {Cm(rdata[3])}";
    }

    /// <summary>RFC 8659 §4.1 CAA: flags tag "value".</summary>
    private static string? Caa(ReadOnlySpan<byte> rdata)
    {
        if (rdata.Length < 2) return null;
        int tagLength = rdata[1];
        if (2 + tagLength > rdata.Length) return null;
        var sb = new StringBuilder();
        sb.Append(rdata[0].ToString(CultureInfo.InvariantCulture)).Append(' ');
        sb.Append(Encoding.ASCII.GetString(rdata.Slice(2, tagLength))).Append(' ');
        AppendQuoted(sb, rdata[(2 + tagLength)..]);
        return sb.ToString();
    }

    /// <summary>RFC 9460 §2.2 SVCB/HTTPS: SvcPriority TargetName key=value...</summary>
    private static string? Svcb(ReadOnlySpan<byte> message, int start, int end, DnsOptions options)
    {
        if (end - start < 3) return null;
        ushort priority = BinaryPrimitives.ReadUInt16BigEndian(message[start..]);
        // TargetName is uncompressed (RFC 9460 §2.2), but reading it with the name reader is harmless.
        string? target = NameAt(message, start + 2, end, options, out int p);
        if (target is null) return null;
        var sb = new StringBuilder();
        sb.Append(priority.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(target == "<Root>" ? "." : target);
        while (p < end)
        {
            if (p + 4 > end) return null;
            ushort key = BinaryPrimitives.ReadUInt16BigEndian(message[p..]);
            int len = BinaryPrimitives.ReadUInt16BigEndian(message[(p + 2)..]);
            p += 4;
            if (p + len > end) return null;
            var value = message.Slice(p, len);
            p += len;
            sb.Append(' ');
            switch (key)
            {
                case 0: // mandatory: list of keys
                    if (len % 2 != 0) return null;
                    sb.Append("mandatory=");
                    for (int i = 0; i < len; i += 2) sb.Append(i == 0 ? "" : ",").Append(SvcKeyName(BinaryPrimitives.ReadUInt16BigEndian(value[i..])));
                    break;
                case 1: // alpn: length-prefixed ids
                    sb.Append("alpn=");
                    for (int i = 0, n = 0; i < len; n++)
                    {
                        int l = value[i];
                        if (i + 1 + l > len) return null;
                        sb.Append(n == 0 ? "" : ",").Append(Encoding.ASCII.GetString(value.Slice(i + 1, l)));
                        i += 1 + l;
                    }
                    break;
                case 2: sb.Append("no-default-alpn"); break;
                case 3:
                    if (len != 2) return null;
                    sb.Append("port=").Append(BinaryPrimitives.ReadUInt16BigEndian(value).ToString(CultureInfo.InvariantCulture));
                    break;
                case 4:
                case 6:
                    int size = key == 4 ? 4 : 16;
                    if (len % size != 0) return null;
                    sb.Append(key == 4 ? "ipv4hint=" : "ipv6hint=");
                    for (int i = 0; i < len; i += size) sb.Append(i == 0 ? "" : ",").Append(new IPAddress(value.Slice(i, size)).ToString());
                    break;
                case 5: sb.Append("ech=").Append(Convert.ToBase64String(value)); break;
                default: sb.Append(SvcKeyName(key)).Append('=').Append(Convert.ToHexStringLower(value)); break;
            }
        }
        return sb.ToString();
    }

    private static string SvcKeyName(ushort key) => key switch
    {
        0 => "mandatory", 1 => "alpn", 2 => "no-default-alpn", 3 => "port", 4 => "ipv4hint", 5 => "ech", 6 => "ipv6hint",
        _ => "key" + key.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>OPT RDATA (RFC 6891 §6.1.2): a list of {OPTION-CODE, OPTION-LENGTH, OPTION-DATA}.</summary>
    private static string? Opt(ReadOnlySpan<byte> rdata)
    {
        var sb = new StringBuilder();
        int p = 0;
        while (p < rdata.Length)
        {
            if (p + 4 > rdata.Length) return null;
            ushort code = BinaryPrimitives.ReadUInt16BigEndian(rdata[p..]);
            int len = BinaryPrimitives.ReadUInt16BigEndian(rdata[(p + 2)..]);
            if (p + 4 + len > rdata.Length) return null;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append("opt").Append(code.ToString(CultureInfo.InvariantCulture)).Append('=').Append(Convert.ToHexStringLower(rdata.Slice(p + 4, len)));
            p += 4 + len;
        }
        return sb.ToString();
    }

    private static string Generic(ReadOnlySpan<byte> rdata) =>
        rdata.Length == 0 ? @"\# 0" : string.Create(CultureInfo.InvariantCulture, $@"\# {rdata.Length} {Convert.ToHexStringLower(rdata)}");
}
