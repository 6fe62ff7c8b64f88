using TrafficStore.Ingest.Capture;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Classic libpcap (layout in <see cref="PcapFormat"/>), little-endian, nanosecond timestamps, written in
/// bounded chunks. A classic file has one link type (draft-ietf-opsawg-pcap section 4, LinkType), so a
/// frame of another is refused (<see cref="CaptureWriteStatus.OtherLinkType"/>), never written under the
/// wrong one. The SnapLen field says 262144 (the largest frame Wireshark reads by default); a longer frame
/// is still written whole, because export reproduces what was captured.
/// </summary>
internal sealed class PcapFileWriter : CaptureFileWriter
{
    public const uint NanosecondMagic = PcapFormat.NanosecondMagic;
    public const int FileHeaderLength = PcapFormat.FileHeaderLength;
    public const int RecordHeaderLength = PcapFormat.RecordHeaderLength;

    public PcapFileWriter(int linkType, int chunkBytes, long? maxBytes) : base(chunkBytes, maxBytes)
    {
        LinkType = linkType;
        Span<byte> header = stackalloc byte[FileHeaderLength];
        PcapFormat.WriteFileHeader(header, nanosecond: true, PcapFormat.DefaultSnapLength, linkType);
        if (maxBytes is long max && max < FileHeaderLength)
            throw new ArgumentOutOfRangeException(nameof(maxBytes), $"a pcap file needs at least {FileHeaderLength} bytes");
        StageHeader(header);
    }

    public int LinkType { get; }

    protected override bool Accepts(in ExportFrame frame) => frame.LinkType == LinkType;

    // The record header's seconds field is 32 bits unsigned (until 2106).
    protected override bool HoldsTime(long timestampNs) => timestampNs / 1_000_000_000 <= uint.MaxValue;

    protected override int RecordLength(in ExportFrame frame) => checked(RecordHeaderLength + frame.Data.Length);

    protected override void Write(in ExportFrame frame, Span<byte> destination)
    {
        PcapFormat.WriteRecordHeader(destination, frame.TimestampNs, nanosecond: true, frame.Data.Length, frame.OriginalLength);
        frame.Data.CopyTo(destination[RecordHeaderLength..]);
    }
}
