using System.Buffers.Binary;

namespace TrafficStore.Ingest.Capture;

/// <summary>
/// Reads pcapng files (draft-ietf-opsawg-pcapng). Every block has the same frame:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +---------------------------------------------------------------+
/// |                          Block Type                           |
/// |                      Block Total Length                       |
/// /                          Block Body                           /  padded to 32 bits
/// |                      Block Total Length                       |
/// +---------------------------------------------------------------+
/// </code>
/// A Section Header Block (0x0A0D0D0A) starts each section and fixes its byte order with the
/// byte-order magic 0x1A2B3C4D; Interface Description Blocks (1) are numbered from 0 within their
/// section and reset at the next SHB. Packets come in Enhanced (6), Simple (3) and obsolete (2)
/// Packet Blocks; every other block type is skipped.
/// <para><see cref="CaptureFrame.InterfaceId"/> is the IDB index within the frame's section (as in
/// the EPB's Interface ID field); <see cref="CaptureFrame.Number"/> counts frames across the whole file.</para>
/// </summary>
internal sealed class PcapNgReader : ICaptureSource
{
    private const uint SectionHeaderBlock = 0x0A0D0D0A;
    private const uint InterfaceDescriptionBlock = 1;
    private const uint ObsoletePacketBlock = 2;
    private const uint SimplePacketBlock = 3;
    private const uint EnhancedPacketBlock = 6;
    private const uint ByteOrderMagic = 0x1A2B3C4D;

    private const ushort OptionEnd = 0;
    private const ushort OptionIfTsresol = 9;
    private const ushort OptionIfTsoffset = 14;

    private readonly CaptureFileWindow _window;
    private readonly CaptureFileOptions _options;
    private readonly List<InterfaceDescription> _interfaces = new();
    private bool _bigEndian;
    private bool _inSection;
    private long _frameNumber;
    private CaptureError? _error;

    public PcapNgReader(CaptureFileWindow window, string name, CaptureFileOptions options)
    {
        _window = window;
        Name = name;
        _options = options;
    }

    public string Name { get; }
    public CaptureError? Error => _error;

    /// <summary>Number of sections seen so far.</summary>
    public int SectionCount { get; private set; }

    private readonly struct InterfaceDescription(LinkType linkType, uint snapLength, TimestampResolution resolution, long offsetNs)
    {
        public readonly LinkType LinkType = linkType;
        public readonly uint SnapLength = snapLength;
        public readonly TimestampResolution Resolution = resolution;
        public readonly long OffsetNs = offsetNs;
    }

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        if (_error is not null) return CaptureReadStatus.Error;
        try
        {
            while (true)
            {
                var status = ReadBlock(ref frame, out bool isFrame);
                if (status != CaptureReadStatus.Frame) return status;
                if (isFrame) return CaptureReadStatus.Frame;
            }
        }
        catch (IOException e)
        {
            return Fail(_window.Position, "read_error", "reading failed: " + e.Message);
        }
    }

    /// <summary>Reads one block; <paramref name="isFrame"/> tells whether it produced a frame.</summary>
    private CaptureReadStatus ReadBlock(ref CaptureFrame frame, out bool isFrame)
    {
        isFrame = false;
        long blockOffset = _window.Position;
        if (!_window.Ensure(12))
        {
            if (_window.Available == 0)
                return _inSection ? CaptureReadStatus.EndOfCapture
                    : Fail(0, "cut_short", "the file is too short for a pcapng section header");
            return Fail(blockOffset, "cut_short", $"the file ends inside a block header ({_window.Available} bytes present)");
        }

        var head = _window.Span;
        uint blockType = BinaryPrimitives.ReadUInt32LittleEndian(head); // 0x0A0D0D0A reads the same either way
        if (blockType == SectionHeaderBlock)
        {
            // The byte-order magic decides how to read this block's length and the whole section.
            uint bom = BinaryPrimitives.ReadUInt32LittleEndian(head[8..]);
            if (bom == ByteOrderMagic) _bigEndian = false;
            else if (BinaryPrimitives.ReverseEndianness(bom) == ByteOrderMagic) _bigEndian = true;
            else return Fail(blockOffset, "corrupt_block", $"section header block has a bad byte-order magic 0x{bom:x8}");
        }
        else
        {
            if (!_inSection) return Fail(blockOffset, "corrupt_block", "the file does not start with a section header block");
            blockType = Read32(head);
        }

        uint totalLength = Read32(head[4..]);
        if (totalLength < 12 || totalLength % 4 != 0 || totalLength > (uint)_options.MaxBlockLength)
            return Fail(blockOffset, "corrupt_block",
                $"block of type 0x{blockType:x} has an invalid total length {totalLength} (must be a multiple of 4, at least 12, at most {_options.MaxBlockLength})");
        if (!_window.Ensure((int)totalLength))
            return Fail(blockOffset, "cut_short",
                $"the file ends inside a block of type 0x{blockType:x} ({_window.Available} of {totalLength} bytes present)");

        var block = _window.Span[..(int)totalLength];
        uint trailingLength = Read32(block[^4..]);
        if (trailingLength != totalLength)
            return Fail(blockOffset, "corrupt_block",
                $"block of type 0x{blockType:x} has total length {totalLength} at its start but {trailingLength} at its end");
        var body = block[8..^4];

        CaptureReadStatus status = blockType switch
        {
            SectionHeaderBlock => ReadSectionHeader(body, blockOffset),
            InterfaceDescriptionBlock => ReadInterfaceDescription(body, blockOffset),
            EnhancedPacketBlock => ReadEnhancedPacket(body, blockOffset, ref frame, ref isFrame),
            SimplePacketBlock => ReadSimplePacket(body, blockOffset, ref frame, ref isFrame),
            ObsoletePacketBlock => ReadObsoletePacket(body, blockOffset, ref frame, ref isFrame),
            _ => CaptureReadStatus.Frame, // any other block: skipped
        };
        if (status == CaptureReadStatus.Frame) _window.Advance((int)totalLength);
        return status;
    }

    // Section Header Block body: byte-order magic (4), major (2), minor (2), section length (8), options.
    private CaptureReadStatus ReadSectionHeader(ReadOnlySpan<byte> body, long offset)
    {
        if (body.Length < 16) return Fail(offset, "corrupt_block", "section header block is too short");
        ushort major = Read16(body[4..]);
        if (major != 1) return Fail(offset, "unsupported_version", $"pcapng major version {major} is not supported");
        _interfaces.Clear();
        _inSection = true;
        SectionCount++;
        return CaptureReadStatus.Frame;
    }

    // Interface Description Block body: LinkType (2), reserved (2), SnapLen (4), options.
    private CaptureReadStatus ReadInterfaceDescription(ReadOnlySpan<byte> body, long offset)
    {
        if (body.Length < 8) return Fail(offset, "corrupt_block", "interface description block is too short");
        var linkType = (LinkType)Read16(body);
        uint snapLength = Read32(body[4..]);
        var resolution = TimestampResolution.Microseconds; // the default when if_tsresol is absent
        long offsetNs = 0;

        var options = body[8..];
        while (options.Length >= 4)
        {
            ushort code = Read16(options);
            ushort length = Read16(options[2..]);
            if (code == OptionEnd) break;
            int padded = (length + 3) & ~3;
            if (4 + padded > options.Length)
                return Fail(offset, "corrupt_block", $"interface description option {code} runs past the end of its block");
            var value = options.Slice(4, length);
            if (code == OptionIfTsresol && length >= 1)
            {
                if (!TimestampResolution.TryFromTsresol(value[0], out resolution))
                    return Fail(offset, "corrupt_block", $"interface has an unusable if_tsresol 0x{value[0]:x2}");
            }
            else if (code == OptionIfTsoffset && length >= 8)
            {
                long seconds = (long)Read64(value);
                offsetNs = seconds * 1_000_000_000L;
            }
            options = options[(4 + padded)..];
        }
        _interfaces.Add(new InterfaceDescription(linkType, snapLength, resolution, offsetNs));
        return CaptureReadStatus.Frame;
    }

    // Enhanced Packet Block body: Interface ID (4), Timestamp upper (4), lower (4),
    // Captured Packet Length (4), Original Packet Length (4), packet data padded to 32 bits, options.
    private CaptureReadStatus ReadEnhancedPacket(ReadOnlySpan<byte> body, long offset, ref CaptureFrame frame, ref bool isFrame)
    {
        if (body.Length < 20) return Fail(offset, "corrupt_block", "enhanced packet block is too short");
        uint interfaceId = Read32(body);
        if (interfaceId >= (uint)_interfaces.Count)
            return Fail(offset, "corrupt_block", $"enhanced packet block names interface {interfaceId}, but the section has {_interfaces.Count}");
        ulong ticks = ((ulong)Read32(body[4..]) << 32) | Read32(body[8..]);
        uint capturedLength = Read32(body[12..]);
        uint originalLength = Read32(body[16..]);
        if (capturedLength > (uint)(body.Length - 20))
            return Fail(offset, "bad_record_length",
                $"enhanced packet block claims {capturedLength} captured bytes but holds only {body.Length - 20}");
        var iface = _interfaces[(int)interfaceId];
        SetFrame(ref frame, offset, (int)interfaceId, iface, ticks, originalLength, body.Slice(20, (int)capturedLength));
        isFrame = true;
        return CaptureReadStatus.Frame;
    }

    // Simple Packet Block body: Original Packet Length (4), packet data. Always interface 0, no
    // timestamp; the captured length is min(original length, snaplen, room in the block).
    private CaptureReadStatus ReadSimplePacket(ReadOnlySpan<byte> body, long offset, ref CaptureFrame frame, ref bool isFrame)
    {
        if (body.Length < 4) return Fail(offset, "corrupt_block", "simple packet block is too short");
        if (_interfaces.Count == 0)
            return Fail(offset, "corrupt_block", "simple packet block before any interface description block");
        uint originalLength = Read32(body);
        var iface = _interfaces[0];
        long capturedLength = Math.Min(originalLength, body.Length - 4);
        if (iface.SnapLength != 0) capturedLength = Math.Min(capturedLength, iface.SnapLength);
        SetFrame(ref frame, offset, 0, iface, 0, originalLength, body.Slice(4, (int)capturedLength));
        frame.TimestampNs = 0;
        isFrame = true;
        return CaptureReadStatus.Frame;
    }

    // Obsolete Packet Block body: Interface ID (2), Drops Count (2), Timestamp upper (4), lower (4),
    // Captured Len (4), Packet Len (4), packet data, options.
    private CaptureReadStatus ReadObsoletePacket(ReadOnlySpan<byte> body, long offset, ref CaptureFrame frame, ref bool isFrame)
    {
        if (body.Length < 20) return Fail(offset, "corrupt_block", "packet block is too short");
        ushort interfaceId = Read16(body);
        if (interfaceId >= _interfaces.Count)
            return Fail(offset, "corrupt_block", $"packet block names interface {interfaceId}, but the section has {_interfaces.Count}");
        ulong ticks = ((ulong)Read32(body[4..]) << 32) | Read32(body[8..]);
        uint capturedLength = Read32(body[12..]);
        uint originalLength = Read32(body[16..]);
        if (capturedLength > (uint)(body.Length - 20))
            return Fail(offset, "bad_record_length",
                $"packet block claims {capturedLength} captured bytes but holds only {body.Length - 20}");
        SetFrame(ref frame, offset, interfaceId, _interfaces[interfaceId], ticks, originalLength, body.Slice(20, (int)capturedLength));
        isFrame = true;
        return CaptureReadStatus.Frame;
    }

    private void SetFrame(ref CaptureFrame frame, long offset, int interfaceId, in InterfaceDescription iface,
        ulong ticks, uint originalLength, ReadOnlySpan<byte> data)
    {
        frame.Number = ++_frameNumber;
        frame.TimestampNs = iface.Resolution.ToNanoseconds(ticks) + iface.OffsetNs;
        frame.OriginalLength = originalLength > int.MaxValue ? int.MaxValue : (int)originalLength;
        frame.LinkType = iface.LinkType;
        frame.InterfaceId = interfaceId;
        frame.FileOffset = offset;
        frame.Data = data;
    }

    private ushort Read16(ReadOnlySpan<byte> b) =>
        _bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(b) : BinaryPrimitives.ReadUInt16LittleEndian(b);

    private uint Read32(ReadOnlySpan<byte> b) =>
        _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(b) : BinaryPrimitives.ReadUInt32LittleEndian(b);

    private ulong Read64(ReadOnlySpan<byte> b) =>
        _bigEndian ? BinaryPrimitives.ReadUInt64BigEndian(b) : BinaryPrimitives.ReadUInt64LittleEndian(b);

    private CaptureReadStatus Fail(long offset, string kind, string message)
    {
        _error = new CaptureError(Name, offset, kind, message);
        return CaptureReadStatus.Error;
    }

    public void Dispose() => _window.Dispose();
}
