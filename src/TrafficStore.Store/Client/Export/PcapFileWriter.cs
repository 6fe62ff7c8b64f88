using System.Buffers.Binary;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Classic libpcap (draft-ietf-opsawg-pcap section 4), little-endian, nanosecond timestamps.
/// <code>
/// File header (section 4):
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Magic Number (0xA1B23C4D: ns)                |
/// |     Major Version (2)         |      Minor Version (4)        |
/// |                      Reserved1 (0)                            |
/// |                      Reserved2 (0)                            |
/// |                          SnapLen                              |
/// | FCS |f|0 0 0 0 0 0 0 0 0 0 0 0|         LinkType              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// Packet record (section 5):
/// |                     Timestamp (Seconds)                       |
/// |                     Timestamp (Nanoseconds)                   |
/// |                  Captured Packet Length                       |
/// |                  Original Packet Length                       |
/// /                  Packet Data (captured length bytes)          /
/// </code>
/// A classic file has one link type (section 4, LinkType), so a frame of another is refused
/// (<see cref="CaptureWriteStatus.OtherLinkType"/>), never written under the wrong one. The SnapLen field
/// says 262144 (the largest frame Wireshark reads by default); a longer frame is still written whole.
/// </summary>
internal sealed class PcapFileWriter : CaptureFileWriter
{
    public const uint NanosecondMagic = 0xA1B23C4D;
    public const int FileHeaderLength = 24;
    public const int RecordHeaderLength = 16;
    public const int SnapLength = 262144;

    public PcapFileWriter(int linkType, int chunkBytes, long? maxBytes) : base(chunkBytes, maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(linkType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linkType, 0xFFFF);
        LinkType = linkType;
        Span<byte> header = stackalloc byte[FileHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, NanosecondMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (uint)linkType);
        if (maxBytes is long max && max < FileHeaderLength)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), $"a pcap file needs at least {FileHeaderLength} bytes");
        StageHeader(header);
    }

    public int LinkType { get; }

    protected override bool Accepts(in ExportFrame frame) => frame.LinkType == LinkType;

    protected override int RecordLength(in ExportFrame frame) => checked(RecordHeaderLength + frame.Data.Length);

    protected override void Write(in ExportFrame frame, Span<byte> destination)
    {
        // Seconds is an unsigned 32-bit field: it ends in February 2106.
        long seconds = frame.TimestampNs / 1_000_000_000;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, uint.MaxValue, "frame.TimestampNs");
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)(frame.TimestampNs % 1_000_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)frame.Data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)Math.Min(frame.OriginalLength, uint.MaxValue));
        frame.Data.CopyTo(destination[RecordHeaderLength..]);
    }
}
