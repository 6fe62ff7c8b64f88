using System.Buffers.Binary;
using System.Text;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>Builds DNS messages byte by byte (RFC 1035 §4.1) for tests; no compression unless asked.</summary>
public sealed class DnsMessageBuilder
{
    private readonly List<byte> _bytes = new();

    public int Length => _bytes.Count;

    public DnsMessageBuilder Header(ushort id, ushort flags, ushort qd, ushort an, ushort ns = 0, ushort ar = 0) =>
        U16(id).U16(flags).U16(qd).U16(an).U16(ns).U16(ar);

    public DnsMessageBuilder U8(int v) { _bytes.Add((byte)v); return this; }
    public DnsMessageBuilder U16(int v) { _bytes.Add((byte)(v >> 8)); _bytes.Add((byte)v); return this; }
    public DnsMessageBuilder U32(uint v) { U16((int)(v >> 16)); return U16((int)(v & 0xFFFF)); }
    public DnsMessageBuilder Bytes(params byte[] b) { _bytes.AddRange(b); return this; }

    /// <summary>An uncompressed name ("www.example.com"; "" is the root).</summary>
    public DnsMessageBuilder Name(string name)
    {
        if (name.Length > 0)
        {
            foreach (var label in name.Split('.'))
            {
                _bytes.Add((byte)label.Length);
                _bytes.AddRange(Encoding.ASCII.GetBytes(label));
            }
        }
        _bytes.Add(0);
        return this;
    }

    /// <summary>Labels followed by a compression pointer to <paramref name="target"/>.</summary>
    public DnsMessageBuilder NameWithPointer(string labels, int target)
    {
        if (labels.Length > 0)
        {
            foreach (var label in labels.Split('.'))
            {
                _bytes.Add((byte)label.Length);
                _bytes.AddRange(Encoding.ASCII.GetBytes(label));
            }
        }
        return Pointer(target);
    }

    public DnsMessageBuilder Pointer(int target) => U16(0xC000 | target);

    public DnsMessageBuilder Question(string name, ushort type, ushort cls = 1) => Name(name).U16(type).U16(cls);

    /// <summary>A record whose owner name is written by <paramref name="owner"/>, then RDATA from <paramref name="rdata"/>.</summary>
    public DnsMessageBuilder Record(Action<DnsMessageBuilder> owner, ushort type, uint ttl, Action<DnsMessageBuilder> rdata, ushort cls = 1)
    {
        owner(this);
        U16(type).U16(cls).U32(ttl);
        int lengthAt = _bytes.Count;
        U16(0);
        int start = _bytes.Count;
        rdata(this);
        int length = _bytes.Count - start;
        _bytes[lengthAt] = (byte)(length >> 8);
        _bytes[lengthAt + 1] = (byte)length;
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();

    /// <summary>The message with its 2-byte TCP length prefix (RFC 1035 §4.2.2).</summary>
    public byte[] ToTcp()
    {
        var m = ToArray();
        var framed = new byte[m.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)m.Length);
        m.CopyTo(framed, 2);
        return framed;
    }

    public static byte[] Query(ushort id, string name, ushort type) =>
        new DnsMessageBuilder().Header(id, 0x0100, 1, 0).Question(name, type).ToArray();

    /// <summary>A response with a CNAME (compressed to the question) and an A record, plus an OPT record.</summary>
    public static byte[] CnameAResponse(ushort id) =>
        new DnsMessageBuilder().Header(id, 0x8180, 1, 2, 0, 1)
            .Question("www.example.com", 1)                                   // name at offset 12
            .Record(b => b.Pointer(12), 5, 300, b => b.NameWithPointer("edge", 16)) // edge.example.com
            .Record(b => b.Name("edge.example.com"), 1, 60, b => b.Bytes(93, 184, 216, 34))
            .Record(b => b.Name(""), 41, 0x00008000, _ => { }, cls: 1232)        // OPT: udp 1232, DO
            .ToArray();
}
