using System.Buffers.Binary;
using System.Text;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// pcapng (draft-ietf-opsawg-pcapng), little-endian: one Section Header Block, then an Interface
/// Description Block the first time each (capture, interface, link type) appears, then an Enhanced
/// Packet Block per frame. Frames of several link types and interfaces fit in one file this way, each
/// under its own interface, and every IDB says <c>if_tsresol</c> = 9 so timestamps keep nanoseconds.
/// IDBs may appear anywhere in a section before the first block that names them (section 4.2), so
/// the file streams without knowing its interfaces up front.
/// <code>
/// Section Header Block (section 4.1)        Interface Description Block (4.2)
/// +---------------------------------+       +---------------------------------+
/// | Block Type = 0x0A0D0D0A         |       | Block Type = 0x00000001         |
/// | Block Total Length              |       | Block Total Length              |
/// | Byte-Order Magic = 0x1A2B3C4D   |       | LinkType (16)  | Reserved (16)  |
/// | Major (1)      | Minor (0)      |       | SnapLen (0: no limit)           |
/// | Section Length (64, -1)         |       / Options: if_tsresol=9,          /
/// | Block Total Length              |       /   if_description, opt_endofopt  /
/// +---------------------------------+       | Block Total Length              |
///                                           +---------------------------------+
/// Enhanced Packet Block (section 4.3)
/// +---------------------------------+
/// | Block Type = 0x00000006         |
/// | Block Total Length              |
/// | Interface ID                    |
/// | Timestamp (High) | (Low)        |   64-bit count of if_tsresol units (ns) since 1970
/// | Captured Packet Length          |
/// | Original Packet Length          |
/// / Packet Data, padded to 32 bits  /
/// | Block Total Length              |
/// +---------------------------------+
/// </code>
/// </summary>
internal sealed class PcapNgFileWriter : CaptureFileWriter
{
    public const uint SectionHeaderType = 0x0A0D0D0A;
    public const uint InterfaceDescriptionType = 0x00000001;
    public const uint EnhancedPacketType = 0x00000006;
    public const uint ByteOrderMagic = 0x1A2B3C4D;
    private const int SectionHeaderLength = 28;
    private const int EnhancedPacketFixedLength = 32;
    private const ushort OptEndOfOpt = 0, OptDescription = 3, OptTimestampResolution = 9;

    private readonly Dictionary<(long Capture, long Interface, int LinkType), uint> _interfaces = new();
    private (long Capture, long Interface, int LinkType) _lastKey = (long.MinValue, long.MinValue, -1);
    private uint _lastId;

    public PcapNgFileWriter(int chunkBytes, long? maxBytes) : base(chunkBytes, maxBytes)
    {
        if (maxBytes is long max && max < SectionHeaderLength)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), $"a pcapng file needs at least {SectionHeaderLength} bytes");
        Span<byte> shb = stackalloc byte[SectionHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(shb, SectionHeaderType);
        BinaryPrimitives.WriteUInt32LittleEndian(shb[4..], SectionHeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(shb[8..], ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(shb[12..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(shb[14..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(shb[16..], -1); // section length not given (streamed)
        BinaryPrimitives.WriteUInt32LittleEndian(shb[24..], SectionHeaderLength);
        StageHeader(shb);
    }

    /// <summary>Interface Description Blocks written so far.</summary>
    public int Interfaces => _interfaces.Count;

    /// <summary>The link types of the interfaces written, in IDB order.</summary>
    public IEnumerable<int> LinkTypes => _interfaces.OrderBy(p => p.Value).Select(p => p.Key.LinkType);

    protected override bool Accepts(in ExportFrame frame) => frame.LinkType is >= 0 and <= 0xFFFF;

    protected override int RecordLength(in ExportFrame frame)
    {
        int packet = checked(EnhancedPacketFixedLength + Pad4(frame.Data.Length));
        return Known(frame, out _) ? packet : checked(packet + InterfaceBlockLength(frame));
    }

    protected override void Write(in ExportFrame frame, Span<byte> destination)
    {
        if (!Known(frame, out uint id))
        {
            int idbLength = InterfaceBlockLength(frame);
            id = (uint)_interfaces.Count;
            WriteInterfaceBlock(frame, destination[..idbLength]);
            _interfaces.Add(Key(frame), id);
            destination = destination[idbLength..];
            _lastKey = Key(frame);
            _lastId = id;
        }
        int total = EnhancedPacketFixedLength + Pad4(frame.Data.Length);
        ulong ts = (ulong)frame.TimestampNs; // if_tsresol 9: nanoseconds
        BinaryPrimitives.WriteUInt32LittleEndian(destination, EnhancedPacketType);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], id);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)(ts >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)ts);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)frame.Data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)Math.Min(frame.OriginalLength, uint.MaxValue));
        frame.Data.CopyTo(destination[28..]);
        destination.Slice(28 + frame.Data.Length, Pad4(frame.Data.Length) - frame.Data.Length).Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination[(total - 4)..], (uint)total);
    }

    private static (long, long, int) Key(in ExportFrame f) => (f.CaptureId, f.InterfaceId, f.LinkType);

    private bool Known(in ExportFrame frame, out uint id)
    {
        var key = Key(frame);
        if (key == _lastKey) { id = _lastId; return true; }
        if (_interfaces.TryGetValue(key, out id)) { _lastKey = key; _lastId = id; return true; }
        return false;
    }

    private static string Description(in ExportFrame f) => $"trafficstore capture {f.CaptureId} interface {f.InterfaceId}";

    // LinkType, Reserved, SnapLen (8 bytes) + options + the two length fields and the type (12 bytes).
    private static int InterfaceBlockLength(in ExportFrame f) =>
        12 + 8 + 8 /* if_tsresol */ + 4 + Pad4(Encoding.UTF8.GetByteCount(Description(f))) /* if_description */ + 4 /* opt_endofopt */;

    private static void WriteInterfaceBlock(in ExportFrame f, Span<byte> block)
    {
        block.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(block, InterfaceDescriptionType);
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], (uint)block.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], (ushort)f.LinkType);
        BinaryPrimitives.WriteUInt32LittleEndian(block[12..], 0); // SnapLen 0: no limit (frames are never cut)
        var options = block[16..];
        BinaryPrimitives.WriteUInt16LittleEndian(options, OptTimestampResolution);
        BinaryPrimitives.WriteUInt16LittleEndian(options[2..], 1);
        options[4] = 9; // 10^-9 s
        options = options[8..];
        var description = Description(f);
        int length = Encoding.UTF8.GetBytes(description, options[4..]);
        BinaryPrimitives.WriteUInt16LittleEndian(options, OptDescription);
        BinaryPrimitives.WriteUInt16LittleEndian(options[2..], (ushort)length);
        options = options[(4 + Pad4(length))..];
        BinaryPrimitives.WriteUInt16LittleEndian(options, OptEndOfOpt);
        BinaryPrimitives.WriteUInt32LittleEndian(block[^4..], (uint)block.Length);
    }

    private static int Pad4(int n) => (n + 3) & ~3;
}
