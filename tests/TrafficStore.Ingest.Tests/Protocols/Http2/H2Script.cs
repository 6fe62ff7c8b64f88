using System.Text;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http2;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>One TCP segment of a hand-made HTTP/2 connection.</summary>
public sealed record H2Segment(FlowDirection Direction, byte[] Data, long Frame, long TimestampNs);

/// <summary>Builds HTTP/2 frames and header blocks for tests (RFC 9113 §4.1, RFC 7541 §6.2.2).</summary>
public static class H2
{
    public const FlowDirection C2S = FlowDirection.ClientToServer;
    public const FlowDirection S2C = FlowDirection.ServerToClient;

    public static byte[] Preface => Encoding.ASCII.GetBytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

    public static byte[] Frame(Http2FrameType type, int flags, uint stream, params byte[] payload) =>
        Frame((byte)type, flags, stream, payload);

    public static byte[] Frame(byte type, int flags, uint stream, byte[] payload)
    {
        var f = new byte[9 + payload.Length];
        f[0] = (byte)(payload.Length >> 16);
        f[1] = (byte)(payload.Length >> 8);
        f[2] = (byte)payload.Length;
        f[3] = type;
        f[4] = (byte)flags;
        f[5] = (byte)(stream >> 24 & 0x7F);
        f[6] = (byte)(stream >> 16);
        f[7] = (byte)(stream >> 8);
        f[8] = (byte)stream;
        payload.CopyTo(f, 9);
        return f;
    }

    public static byte[] Settings(params (ushort Id, uint Value)[] settings)
    {
        var p = new List<byte>();
        foreach (var (id, value) in settings)
        {
            p.Add((byte)(id >> 8)); p.Add((byte)id);
            p.Add((byte)(value >> 24)); p.Add((byte)(value >> 16)); p.Add((byte)(value >> 8)); p.Add((byte)value);
        }
        return Frame(Http2FrameType.Settings, 0, 0, p.ToArray());
    }

    /// <summary>Header block of literals without indexing, new names, raw strings (§6.2.2).</summary>
    public static byte[] Block(params string[] nameValues)
    {
        var b = new List<byte>();
        for (int i = 0; i < nameValues.Length; i += 2)
        {
            b.Add(0x00);
            String(b, nameValues[i]);
            String(b, nameValues[i + 1]);
        }
        return b.ToArray();
    }

    /// <summary>One literal with incremental indexing, new name (§6.2.1).</summary>
    public static byte[] Indexing(string name, string value)
    {
        var b = new List<byte> { 0x40 };
        String(b, name);
        String(b, value);
        return b.ToArray();
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] U32(uint v) => new[] { (byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v };

    private static void String(List<byte> b, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        Integer(b, bytes.Length, 7, 0);
        b.AddRange(bytes);
    }

    /// <summary>RFC 7541 §5.1 integer.</summary>
    public static void Integer(List<byte> b, int value, int prefixBits, byte pattern)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max) { b.Add((byte)(pattern | value)); return; }
        b.Add((byte)(pattern | max));
        value -= max;
        while (value >= 128) { b.Add((byte)(value % 128 + 128)); value /= 128; }
        b.Add((byte)value);
    }

    public static FlowContext Flow() => new(7, Transport.Tcp, NetAddress.Parse("10.0.0.1"), 40000, NetAddress.Parse("10.0.0.2"), 50051);

    /// <summary>How a script is fed to the parser.</summary>
    public enum Feed { Whole, ByteByByte }

    /// <summary>Runs the script; <paramref name="splitAt"/> cuts the concatenated input into two calls at that offset.</summary>
    public static List<HttpExchange> Run(IReadOnlyList<H2Segment> script, Feed feed = Feed.Whole, int splitAt = -1,
        bool upgraded = false, Http2Options? options = null, Action<IStreamParser>? beforeEnd = null)
    {
        var sink = new ListSink<HttpExchange>();
        var protocol = new Http2Protocol(sink, options);
        var parser = upgraded ? protocol.CreateUpgradedParser(Flow()) : protocol.CreateParser(Flow());
        int offset = 0;
        foreach (var s in script)
        {
            var info = new SegmentInfo(s.Frame, s.TimestampNs);
            if (feed == Feed.ByteByByte)
            {
                for (int i = 0; i < s.Data.Length; i++) parser.OnData(s.Direction, s.Data.AsSpan(i, 1), info);
            }
            else if (splitAt > offset && splitAt < offset + s.Data.Length)
            {
                int at = splitAt - offset;
                parser.OnData(s.Direction, s.Data.AsSpan(0, at), info);
                parser.OnData(s.Direction, s.Data.AsSpan(at), info);
            }
            else
            {
                parser.OnData(s.Direction, s.Data, info);
            }
            offset += s.Data.Length;
        }
        beforeEnd?.Invoke(parser);
        parser.OnEnd(script.Count == 0 ? 0 : script[^1].TimestampNs);
        return sink.Rows;
    }

    /// <summary>Everything a row holds, as text, for comparing runs.</summary>
    public static string Describe(IEnumerable<HttpExchange> rows)
    {
        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            foreach (var c in HttpTable.Definition.Columns) sb.Append(c.Name).Append('=').Append(c.FormatText(r)).Append(';');
            sb.Append("|rq:").AppendJoin(",", r.RequestHeaders).Append("|rqt:").AppendJoin(",", r.RequestTrailers);
            sb.Append("|rs:").AppendJoin(",", r.ResponseHeaders).Append("|rst:").AppendJoin(",", r.ResponseTrailers);
            sb.Append("|qb:").Append(r.RequestBody is null ? "-" : Convert.ToHexString(r.RequestBody));
            sb.Append("|sb:").Append(r.ResponseBody is null ? "-" : Convert.ToHexString(r.ResponseBody));
            sb.Append("|sbd:").Append(r.ResponseBodyDecoded is null ? "-" : Convert.ToHexString(r.ResponseBodyDecoded));
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
