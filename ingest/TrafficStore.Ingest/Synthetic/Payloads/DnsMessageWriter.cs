using System.Net;

namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>DNS record types the generator answers with (RFC 1035 3.2.2, RFC 3596, RFC 2782).</summary>
internal enum DnsType : ushort { A = 1, Cname = 5, Aaaa = 28, Srv = 33 }

/// <summary>One answer record; <see cref="Data"/> is an IP, a host name or an SRV target.</summary>
internal sealed record DnsAnswer(string Owner, DnsType Type, string Data, ushort SrvPort = 0, uint Ttl = 30);

/// <summary>
/// Writes DNS messages (RFC 1035 section 4.1). Header:
/// <code>
///   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
/// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
/// |                      ID                       |
/// |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
/// |                    QDCOUNT                    |
/// |                    ANCOUNT                    |
/// |                    NSCOUNT                    |
/// |                    ARCOUNT                    |
/// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
/// </code>
/// The question name is written once; answer owners equal to it use a compression pointer to
/// offset 12 (section 4.1.4).
/// </summary>
internal static class DnsMessageWriter
{
    public const int NoError = 0, NxDomain = 3;

    public static byte[] Query(ushort id, string name, DnsType type)
    {
        var w = new ByteWriter(64);
        w.U16(id);
        w.U16(0x0100); // RD
        w.U16(1); w.U16(0); w.U16(0); w.U16(0);
        Name(w, name);
        w.U16((int)type);
        w.U16(1); // class IN
        return w.ToArray();
    }

    public static byte[] Response(ushort id, string name, DnsType type, int rcode, IReadOnlyList<DnsAnswer> answers)
    {
        var w = new ByteWriter(128);
        w.U16(id);
        w.U16(0x8180 | rcode); // QR, RD, RA (+ AA off: a cluster resolver forwarding)
        w.U16(1); w.U16(answers.Count); w.U16(0); w.U16(0);
        Name(w, name);
        w.U16((int)type);
        w.U16(1);
        foreach (DnsAnswer a in answers)
        {
            if (string.Equals(a.Owner, name, StringComparison.OrdinalIgnoreCase)) w.U16(0xC00C);
            else Name(w, a.Owner);
            w.U16((int)a.Type);
            w.U16(1);
            w.U32(a.Ttl);
            int rdLength = w.ReserveLength(2);
            switch (a.Type)
            {
                case DnsType.A:
                case DnsType.Aaaa:
                    w.Bytes(IPAddress.Parse(a.Data).GetAddressBytes());
                    break;
                case DnsType.Cname:
                    Name(w, a.Data);
                    break;
                case DnsType.Srv:
                    w.U16(0); w.U16(100); w.U16(a.SrvPort); // priority, weight, port
                    Name(w, a.Data);
                    break;
            }
            w.PatchLength(rdLength, 2);
        }
        return w.ToArray();
    }

    /// <summary>Section 3.1: a sequence of length-prefixed labels ending with the root label.</summary>
    private static void Name(ByteWriter w, string name)
    {
        foreach (string label in name.TrimEnd('.').Split('.'))
        {
            w.U8(label.Length);
            w.Ascii(label);
        }
        w.U8(0);
    }
}
