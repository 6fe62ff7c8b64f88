using System.Buffers.Binary;
using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>
/// Builds pcap and pcapng files byte by byte for tests, in either byte order, following the
/// formats' specifications independently of the readers.
/// </summary>
internal sealed class CaptureBytes
{
    private readonly List<byte> _bytes = new();
    private bool _bigEndian;

    public byte[] ToArray() => _bytes.ToArray();
    public int Length => _bytes.Count;

    public CaptureBytes U16(ushort v) { Span<byte> b = stackalloc byte[2]; if (_bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, v); else BinaryPrimitives.WriteUInt16LittleEndian(b, v); _bytes.AddRange(b.ToArray()); return this; }
    public CaptureBytes U32(uint v) { Span<byte> b = stackalloc byte[4]; if (_bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, v); else BinaryPrimitives.WriteUInt32LittleEndian(b, v); _bytes.AddRange(b.ToArray()); return this; }
    public CaptureBytes U64(ulong v) { Span<byte> b = stackalloc byte[8]; if (_bigEndian) BinaryPrimitives.WriteUInt64BigEndian(b, v); else BinaryPrimitives.WriteUInt64LittleEndian(b, v); _bytes.AddRange(b.ToArray()); return this; }
    public CaptureBytes Raw(ReadOnlySpan<byte> data) { _bytes.AddRange(data.ToArray()); return this; }
    private CaptureBytes Pad4() { while (_bytes.Count % 4 != 0) _bytes.Add(0); return this; }

    // ---------------------------------------------------------------- pcap

    public static CaptureBytes Pcap(bool bigEndian, bool nanoseconds, uint snapLength, uint linkTypeField)
    {
        var c = new CaptureBytes { _bigEndian = bigEndian };
        c.U32(nanoseconds ? 0xA1B23C4Du : 0xA1B2C3D4u).U16(2).U16(4).U32(0).U32(0).U32(snapLength).U32(linkTypeField);
        return c;
    }

    public CaptureBytes PcapRecord(uint seconds, uint fraction, ReadOnlySpan<byte> data, uint? originalLength = null, uint? capturedLength = null)
    {
        U32(seconds).U32(fraction).U32(capturedLength ?? (uint)data.Length).U32(originalLength ?? (uint)data.Length);
        return Raw(data);
    }

    // ---------------------------------------------------------------- pcapng

    public static CaptureBytes PcapNg() => new();

    /// <summary>Section Header Block; switches the builder to this section's byte order.</summary>
    public CaptureBytes Section(bool bigEndian, ushort major = 1)
    {
        _bigEndian = bigEndian;
        return Block(0x0A0D0D0A, b => b.U32(0x1A2B3C4D).U16(major).U16(0).U64(ulong.MaxValue));
    }

    public CaptureBytes Interface(ushort linkType, uint snapLength = 0, byte? tsresol = null, long? tsoffsetSeconds = null) =>
        Block(1, b =>
        {
            b.U16(linkType).U16(0).U32(snapLength);
            b.U16(2).U16(4).Raw("eth0"u8); // if_name, to show other options are skipped
            if (tsresol is { } r) { b.U16(9).U16(1).Raw([r]).Pad4(); }
            if (tsoffsetSeconds is { } o) b.U16(14).U16(8).U64((ulong)o);
            b.U16(0).U16(0);
        });

    public CaptureBytes Enhanced(uint interfaceId, ulong ticks, ReadOnlySpan<byte> data, uint? originalLength = null)
    {
        var copy = data.ToArray();
        return Block(6, b =>
        {
            b.U32(interfaceId).U32((uint)(ticks >> 32)).U32((uint)ticks).U32((uint)copy.Length).U32(originalLength ?? (uint)copy.Length);
            b.Raw(copy).Pad4();
            b.U16(1).U16(5).Raw("hello"u8).Pad4().U16(0).U16(0); // opt_comment + end
        });
    }

    public CaptureBytes Simple(ReadOnlySpan<byte> data, uint originalLength)
    {
        var copy = data.ToArray();
        return Block(3, b => b.U32(originalLength).Raw(copy).Pad4());
    }

    public CaptureBytes ObsoletePacket(ushort interfaceId, ulong ticks, ReadOnlySpan<byte> data, uint? originalLength = null)
    {
        var copy = data.ToArray();
        return Block(2, b => b.U16(interfaceId).U16(0).U32((uint)(ticks >> 32)).U32((uint)ticks)
            .U32((uint)copy.Length).U32(originalLength ?? (uint)copy.Length).Raw(copy).Pad4());
    }

    /// <summary>Any block: type, total length, body (padded), total length.</summary>
    public CaptureBytes Block(uint type, Action<CaptureBytes> body, int? trailingLengthDelta = null)
    {
        var inner = new CaptureBytes { _bigEndian = _bigEndian };
        body(inner);
        inner.Pad4();
        uint total = (uint)(12 + inner.Length);
        U32(type).U32(total).Raw(inner.ToArray()).U32(total + (uint)(trailingLengthDelta ?? 0));
        return this;
    }

    // ---------------------------------------------------------------- reading back

    internal sealed record Frame(long Number, long TimestampNs, int OriginalLength, LinkType LinkType, int InterfaceId, long FileOffset, byte[] Data);

    /// <summary>Reads everything a source gives, copying each frame.</summary>
    internal static (List<Frame> Frames, CaptureReadStatus End, CaptureError? Error) ReadAll(byte[] file, string name = "test.pcap")
    {
        using var source = CaptureFile.Open(new MemoryStream(file), name);
        return ReadAll(source);
    }

    internal static (List<Frame> Frames, CaptureReadStatus End, CaptureError? Error) ReadAll(ICaptureSource source)
    {
        var frames = new List<Frame>();
        var frame = new CaptureFrame();
        CaptureReadStatus status;
        int guard = 0;
        while ((status = source.TryReadNext(ref frame)) == CaptureReadStatus.Frame)
        {
            frames.Add(new Frame(frame.Number, frame.TimestampNs, frame.OriginalLength, frame.LinkType, frame.InterfaceId, frame.FileOffset, frame.Data.ToArray()));
            if (++guard > 1_000_000) throw new InvalidOperationException("source never ends");
        }
        // A finished source keeps saying so.
        Assert.Equal(status, source.TryReadNext(ref frame));
        return (frames, status, source.Error);
    }
}
