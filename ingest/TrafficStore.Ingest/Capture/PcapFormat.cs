using System.Buffers.Binary;

namespace TrafficStore.Ingest.Capture;

/// <summary>
/// The classic libpcap layout (draft-ietf-opsawg-pcap sections 4 and 5), written little-endian.
/// One definition for every writer (the generator's <see cref="PcapWriter"/>, the store's export) and
/// the lengths the reader checks.
/// <code>
/// File header (section 4), 24 bytes:
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Magic Number                         |  a1b2c3d4 (µs) / a1b23c4d (ns)
/// |          Major Version (2)    |         Minor Version (4)     |
/// |                       Reserved1 (thiszone, 0)                 |
/// |                       Reserved2 (sigfigs, 0)                  |
/// |                            SnapLen                            |
/// | FCS |f|0 0 0 0 0 0 0 0 0 0 0 0|         LinkType              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// Packet record (section 5), 16 bytes then the captured bytes:
/// |                     Timestamp (Seconds)                       |
/// |          Timestamp (Microseconds or Nanoseconds)              |
/// |                  Captured Packet Length                       |
/// |                  Original Packet Length                       |
/// </code>
/// </summary>
public static class PcapFormat
{
    public const uint MicrosecondMagic = 0xA1B2C3D4;
    public const uint NanosecondMagic = 0xA1B23C4D;
    public const int FileHeaderLength = 24;
    public const int RecordHeaderLength = 16;

    /// <summary>The snap length our files declare: the largest frame Wireshark reads by default.</summary>
    public const int DefaultSnapLength = 262144;

    public static void WriteFileHeader(Span<byte> destination, bool nanosecond, int snapLength, int linkType)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(linkType);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linkType, 0xFFFF);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, nanosecond ? NanosecondMagic : MicrosecondMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], (uint)linkType);
    }

    /// <summary>
    /// Writes one record header. <paramref name="timestampNs"/> is nanoseconds since the Unix epoch,
    /// rounded down to microseconds in a microsecond file; the seconds field is an unsigned 32-bit count,
    /// so it ends in February 2106 (a later time is an argument error, never a wrapped one).
    /// </summary>
    public static void WriteRecordHeader(Span<byte> destination, long timestampNs, bool nanosecond,
        int capturedLength, long originalLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNs);
        long seconds = timestampNs / 1_000_000_000;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, uint.MaxValue, nameof(timestampNs));
        long fraction = timestampNs % 1_000_000_000;
        if (!nanosecond) fraction /= 1000;
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)fraction);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], (uint)capturedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], (uint)Math.Min(originalLength, uint.MaxValue));
    }
}
