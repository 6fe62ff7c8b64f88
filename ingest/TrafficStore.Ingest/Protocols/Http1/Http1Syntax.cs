using System.Text;

namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>
/// The line grammar of RFC 9112, on complete lines (CRLF or bare LF already removed):
/// <code>
///   request-line = method SP request-target SP HTTP-version        (§3)
///   status-line  = HTTP-version SP status-code SP [ reason-phrase ] (§4)
///   HTTP-version = "HTTP/" DIGIT "." DIGIT                          (§2.3)
///   field-line   = field-name ":" OWS field-value OWS               (§5)
///   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF     (§7.1)
/// </code>
/// Parsing is tolerant where tolerance cannot change framing (missing reason phrase, whitespace
/// before a field's colon); the caller records anomalies.
/// </summary>
internal static class Http1Syntax
{
    /// <summary>RFC 9110 §9 methods, WebDAV (RFC 4918, 3253, 3744, 5323, 4791, 5842) and common extensions.</summary>
    public static readonly string[] KnownMethods =
    {
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
        "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE", "VERSION-CONTROL", "MKWORKSPACE",
        "UPDATE", "LABEL", "BASELINE-CONTROL", "MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND",
        "ORDERPATCH", "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PURGE", "LINK", "UNLINK",
    };

    private static readonly byte[][] KnownMethodBytes = KnownMethods.Select(m => Encoding.ASCII.GetBytes(m + " ")).ToArray();
    private static readonly byte[] HttpSlash1 = "HTTP/1."u8.ToArray();

    /// <summary>Do these first client bytes start a request line with a known method?</summary>
    public static ProtocolMatch ClassifyRequest(ReadOnlySpan<byte> first)
    {
        bool maybe = false;
        foreach (var m in KnownMethodBytes)
        {
            if (first.Length >= m.Length)
            {
                if (first[..m.Length].SequenceEqual(m)) return ProtocolMatch.Yes;
            }
            else if (m.AsSpan(0, first.Length).SequenceEqual(first)) maybe = true;
        }
        return maybe ? ProtocolMatch.NeedMoreData : ProtocolMatch.No;
    }

    /// <summary>Do these first server bytes start an "HTTP/1.x ddd" status line?</summary>
    public static ProtocolMatch ClassifyResponse(ReadOnlySpan<byte> first)
    {
        // "HTTP/1.1 200": 12 bytes decide
        Span<byte> shape = stackalloc byte[12];
        int n = Math.Min(first.Length, shape.Length);
        for (int i = 0; i < n; i++)
        {
            byte b = first[i];
            bool ok = i switch
            {
                < 7 => b == HttpSlash1[i],
                7 => IsDigit(b),
                8 => b == ' ',
                _ => IsDigit(b),
            };
            if (!ok) return ProtocolMatch.No;
        }
        return n == shape.Length ? ProtocolMatch.Yes : ProtocolMatch.NeedMoreData;
    }

    /// <summary>Removes the line terminator: CRLF, or a bare LF (RFC 9112 §2.2 lets recipients accept it).</summary>
    public static ReadOnlySpan<byte> TrimEol(ReadOnlySpan<byte> line)
    {
        if (line.Length > 0 && line[^1] == '\n') line = line[..^1];
        if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
        return line;
    }

    public static bool TryParseRequestLine(ReadOnlySpan<byte> line, out string method, out string target, out string version)
    {
        method = target = version = "";
        int sp1 = line.IndexOf((byte)' ');
        int sp2 = line.LastIndexOf((byte)' ');
        if (sp1 <= 0 || sp2 <= sp1 + 1) return false;
        var m = line[..sp1];
        var t = line[(sp1 + 1)..sp2];
        var v = line[(sp2 + 1)..];
        if (!IsToken(m) || t.IndexOfAny((byte)' ', (byte)'\t') >= 0 || !IsHttp1Version(v)) return false;
        method = Encoding.ASCII.GetString(m);
        target = Encoding.UTF8.GetString(t);
        version = Encoding.ASCII.GetString(v);
        return true;
    }

    public static bool TryParseStatusLine(ReadOnlySpan<byte> line, out string version, out int status, out string reason)
    {
        version = reason = "";
        status = 0;
        if (line.Length < 12 || !IsHttp1Version(line[..8]) || line[8] != ' ') return false;
        if (!IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11])) return false;
        if (line.Length > 12 && line[12] != ' ' && line[12] != '\t') return false;
        version = Encoding.ASCII.GetString(line[..8]);
        status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        reason = line.Length > 13 ? Encoding.UTF8.GetString(line[13..]) : "";
        return true;
    }

    /// <summary>
    /// Resync: the offset in <paramref name="line"/> where a start line begins (a line whose head is
    /// leftover body bytes), or -1. Requests need a known method; responses "HTTP/1.x ddd".
    /// </summary>
    public static int FindStartLine(ReadOnlySpan<byte> line, bool request)
    {
        if (!request)
        {
            int from = 0;
            while (from < line.Length)
            {
                int i = line[from..].IndexOf(HttpSlash1);
                if (i < 0) return -1;
                i += from;
                if (TryParseStatusLine(line[i..], out _, out _, out _)) return i;
                from = i + 1;
            }
            return -1;
        }
        // request-line ends with " HTTP/1.x"; the method is the known method that ends the token before the target
        if (line.Length < 14 || !IsHttp1Version(line[^8..]) || line[^9] != ' ') return -1;
        var head = line[..^9];
        int sp = head.LastIndexOf((byte)' ');
        if (sp <= 0 || sp == head.Length - 1) return -1;
        var beforeTarget = head[..sp];
        int best = -1;
        foreach (var withSpace in KnownMethodBytes)
        {
            var method = withSpace.AsSpan(0, withSpace.Length - 1);
            if (beforeTarget.Length < method.Length) continue;
            int start = beforeTarget.Length - method.Length;
            if (!beforeTarget[start..].SequenceEqual(method)) continue;
            if (best < 0 || start < best) best = start;
        }
        if (best < 0) return -1;
        return TryParseRequestLine(line[best..], out _, out _, out _) ? best : -1;
    }

    /// <summary>field-line = field-name ":" OWS field-value OWS.</summary>
    public static bool TryParseFieldLine(ReadOnlySpan<byte> line, out string name, out string value)
    {
        name = value = "";
        int colon = line.IndexOf((byte)':');
        if (colon <= 0) return false;
        var n = TrimOws(line[..colon]);
        if (n.Length == 0 || !IsToken(n)) return false;
        name = Encoding.ASCII.GetString(n);
        value = Encoding.UTF8.GetString(TrimOws(line[(colon + 1)..]));
        return true;
    }

    /// <summary>
    /// Content-Length = 1*DIGIT (RFC 9110 §8.6); a list of identical values ("42, 42") is accepted
    /// as one. False for anything else, including values that do not fit in a long.
    /// </summary>
    public static bool TryParseContentLength(string value, out long length)
    {
        length = -1;
        foreach (var part in value.Split(','))
        {
            var p = part.AsSpan().Trim(" \t");
            if (p.Length == 0 || p.Length > 18) return false;
            long v = 0;
            foreach (char c in p)
            {
                if (c < '0' || c > '9') return false;
                v = v * 10 + (c - '0');
            }
            if (length >= 0 && v != length) return false;
            length = v;
        }
        return length >= 0;
    }

    /// <summary>chunk-size = 1*HEXDIG, then optional BWS ";" chunk-ext (ignored). At most 15 hex digits.</summary>
    public static bool TryParseChunkSize(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        int i = 0;
        while (i < line.Length && HexValue(line[i]) >= 0)
        {
            if (i == 15) return false;
            size = (size << 4) | (uint)HexValue(line[i]);
            i++;
        }
        if (i == 0) return false;
        var rest = TrimOws(line[i..]);
        return rest.Length == 0 || rest[0] == ';';
    }

    public static bool IsDigit(byte b) => b >= '0' && b <= '9';

    private static bool IsHttp1Version(ReadOnlySpan<byte> v) =>
        v.Length == 8 && v[..7].SequenceEqual(HttpSlash1) && IsDigit(v[7]);

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    /// <summary>RFC 9110 §5.6.2 tchar.</summary>
    private static bool IsToken(ReadOnlySpan<byte> s)
    {
        foreach (byte b in s)
        {
            bool ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || IsDigit(b) || "!#$%&'*+-.^_`|~"u8.IndexOf(b) >= 0;
            if (!ok) return false;
        }
        return s.Length > 0;
    }

    private static ReadOnlySpan<byte> TrimOws(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
        return s[a..b];
    }
}
