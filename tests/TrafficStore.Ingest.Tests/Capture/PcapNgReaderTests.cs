using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Tests.Capture;

public class PcapNgReaderTests
{
    private static readonly byte[] A = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    private static readonly byte[] B = [0xAA, 0xBB, 0xCC, 0xDD];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reads_interfaces_of_different_link_types_in_one_section(bool bigEndian)
    {
        var file = CaptureBytes.PcapNg().Section(bigEndian)
            .Interface(1)                       // Ethernet, default microseconds
            .Interface(113, tsresol: 9)         // Linux SLL, nanoseconds
            .Enhanced(0, 1_700_000_000_123_456UL, A, originalLength: 64)
            .Enhanced(1, 1_700_000_000_123_456_789UL, B)
            .ToArray();

        var (frames, end, error) = CaptureBytes.ReadAll(file);

        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Null(error);
        Assert.Equal(2, frames.Count);
        Assert.Equal(LinkType.Ethernet, frames[0].LinkType);
        Assert.Equal(0, frames[0].InterfaceId);
        Assert.Equal(1_700_000_000_123_456_000L, frames[0].TimestampNs);
        Assert.Equal(64, frames[0].OriginalLength);
        Assert.Equal(A, frames[0].Data);
        Assert.Equal(LinkType.LinuxSll, frames[1].LinkType);
        Assert.Equal(1, frames[1].InterfaceId);
        Assert.Equal(1_700_000_000_123_456_789L, frames[1].TimestampNs);
        Assert.Equal(B, frames[1].Data);
    }

    [Fact]
    public void Sections_reset_interfaces_and_switch_byte_order_while_frame_numbers_continue()
    {
        var file = CaptureBytes.PcapNg()
            .Section(bigEndian: false).Interface(1).Interface(101).Enhanced(1, 5_000_000, A)
            .Section(bigEndian: true).Interface(0).Enhanced(0, 7_000_000, B)
            .ToArray();

        var (frames, end, _) = CaptureBytes.ReadAll(file);

        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Equal([1L, 2L], frames.Select(f => f.Number));
        Assert.Equal((LinkType.Raw, 1), (frames[0].LinkType, frames[0].InterfaceId));
        Assert.Equal((LinkType.Null, 0), (frames[1].LinkType, frames[1].InterfaceId));
        Assert.Equal(5_000_000_000L, frames[0].TimestampNs);
        Assert.Equal(7_000_000_000L, frames[1].TimestampNs);
    }

    [Fact]
    public void Interface_ids_from_an_earlier_section_are_not_valid_in_the_next()
    {
        var file = CaptureBytes.PcapNg()
            .Section(false).Interface(1).Interface(1).Enhanced(1, 0, A)
            .Section(false).Interface(1).Enhanced(1, 0, B)
            .ToArray();
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("corrupt_block", error!.Kind);
    }

    [Theory]
    [InlineData((byte)0x80 | 20, 3UL << 20 | 1UL << 19, 3_500_000_000L)]      // 2^-20 s: 3.5 s
    [InlineData((byte)0x80 | 10, 1024UL * 7 + 1, 7_000_976_562L)]             // 2^-10: 1/1024 s = 976562.5 ns, truncated
    [InlineData((byte)0x80 | 0, 42UL, 42_000_000_000L)]                        // 2^0: seconds
    [InlineData((byte)3, 1234UL, 1_234_000_000L)]                              // milliseconds
    [InlineData((byte)12, 1_234_567_890_123UL, 1_234_567_890L)]                // picoseconds
    [InlineData((byte)0, 9UL, 9_000_000_000L)]                                 // seconds
    public void Timestamp_resolutions_convert_exactly(byte tsresol, ulong ticks, long expectedNs)
    {
        var file = CaptureBytes.PcapNg().Section(false).Interface(1, tsresol: tsresol).Enhanced(0, ticks, A).ToArray();
        var (frames, _, _) = CaptureBytes.ReadAll(file);
        Assert.Equal(expectedNs, Assert.Single(frames).TimestampNs);
    }

    [Fact]
    public void Binary_resolution_keeps_nanosecond_precision_for_large_timestamps()
    {
        // 2^-30 s units at 1.7e9 s: ticks are ~1.8e18, near the top of 64 bits.
        ulong seconds = 1_700_000_000UL;
        ulong ticks = (seconds << 30) | (1UL << 29); // + 0.5 s
        var file = CaptureBytes.PcapNg().Section(false).Interface(1, tsresol: 0x80 | 30).Enhanced(0, ticks, A).ToArray();
        var (frames, _, _) = CaptureBytes.ReadAll(file);
        Assert.Equal(1_700_000_000_500_000_000L, Assert.Single(frames).TimestampNs);
    }

    [Fact]
    public void Tsoffset_adds_whole_seconds()
    {
        var file = CaptureBytes.PcapNg().Section(true).Interface(1, tsresol: 6, tsoffsetSeconds: 1_000).Enhanced(0, 2_500_000, A).ToArray();
        var (frames, _, _) = CaptureBytes.ReadAll(file);
        Assert.Equal(1_002_500_000_000L, Assert.Single(frames).TimestampNs);
    }

    [Fact]
    public void Simple_packet_block_uses_interface_zero_and_the_snaplen()
    {
        var payload = Enumerable.Range(0, 40).Select(i => (byte)i).ToArray();
        var file = CaptureBytes.PcapNg().Section(false)
            .Interface(1, snapLength: 32).Interface(101)
            .Simple(payload, originalLength: 1500)   // snaplen cuts to 32
            .Simple(payload[..6], originalLength: 6) // original shorter than the room (padding not data)
            .ToArray();

        var (frames, end, _) = CaptureBytes.ReadAll(file);

        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Equal(2, frames.Count);
        Assert.Equal(payload[..32], frames[0].Data);
        Assert.Equal(1500, frames[0].OriginalLength);
        Assert.Equal(LinkType.Ethernet, frames[0].LinkType);
        Assert.Equal(0, frames[0].InterfaceId);
        Assert.Equal(payload[..6], frames[1].Data);
    }

    [Fact]
    public void Obsolete_packet_block_is_read()
    {
        var file = CaptureBytes.PcapNg().Section(true).Interface(1).Interface(228).ObsoletePacket(1, 3_000_001, A, 90).ToArray();
        var (frames, _, _) = CaptureBytes.ReadAll(file);
        var f = Assert.Single(frames);
        Assert.Equal((LinkType.Ipv4, 1, 90, 3_000_001_000L), (f.LinkType, f.InterfaceId, f.OriginalLength, f.TimestampNs));
        Assert.Equal(A, f.Data);
    }

    [Fact]
    public void Unknown_and_statistics_blocks_are_skipped()
    {
        var file = CaptureBytes.PcapNg().Section(false)
            .Block(0x0BAD, b => b.Raw([9, 9, 9, 9, 9]))          // custom/unknown
            .Interface(1)
            .Block(5, b => b.U32(0).U32(0).U32(0).U16(0).U16(0)) // Interface Statistics Block
            .Block(4, b => b.U16(1).U16(4).Raw([10, 0, 0, 1]).U16(0).U16(0)) // Name Resolution Block
            .Enhanced(0, 1, A)
            .ToArray();
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Null(error);
        Assert.Equal(A, Assert.Single(frames).Data);
    }

    [Fact]
    public void Mismatched_trailing_length_is_corrupt_at_the_block_offset()
    {
        var good = CaptureBytes.PcapNg().Section(false).Interface(1).Enhanced(0, 1, A);
        int badOffset = good.Length;
        var file = good.Block(6, b => b.U32(0).U32(0).U32(0).U32(4).U32(4).Raw(B), trailingLengthDelta: 4).ToArray();
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("corrupt_block", error!.Kind);
        Assert.Equal(badOffset, error.ByteOffset);
    }

    [Theory]
    [InlineData(8u)]        // below the 12-byte minimum
    [InlineData(30u)]       // not a multiple of 4
    [InlineData(0x7FFFFFF0u)] // absurd
    public void Bad_total_length_is_corrupt(uint totalLength)
    {
        var good = CaptureBytes.PcapNg().Section(false).Interface(1);
        int offset = good.Length;
        var file = good.U32(6).U32(totalLength).U32(0).U32(0).ToArray();
        var (_, end, error) = CaptureBytes.ReadAll(file);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("corrupt_block", error!.Kind);
        Assert.Equal(offset, error.ByteOffset);
    }

    [Fact]
    public void Enhanced_block_claiming_more_data_than_it_holds_is_reported()
    {
        var good = CaptureBytes.PcapNg().Section(false).Interface(1);
        int offset = good.Length;
        var file = good.Block(6, b => b.U32(0).U32(0).U32(0).U32(400).U32(400).Raw(B)).ToArray();
        var (_, end, error) = CaptureBytes.ReadAll(file);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("bad_record_length", error!.Kind);
        Assert.Equal(offset, error.ByteOffset);
    }

    [Fact]
    public void Packet_before_any_interface_is_corrupt()
    {
        var (_, end, error) = CaptureBytes.ReadAll(CaptureBytes.PcapNg().Section(false).Enhanced(0, 1, A).ToArray());
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("corrupt_block", error!.Kind);
    }

    [Fact]
    public void Cut_at_every_offset_never_throws_and_keeps_earlier_frames()
    {
        var builder = CaptureBytes.PcapNg().Section(false).Interface(1, tsresol: 9);
        var blockEnds = new List<int>();
        builder.Enhanced(0, 10, A); blockEnds.Add(builder.Length);
        builder.Simple(B, 4); blockEnds.Add(builder.Length);
        builder.Section(true).Interface(101);
        builder.Enhanced(0, 20, B); blockEnds.Add(builder.Length);
        var full = builder.ToArray();
        var (all, _, _) = CaptureBytes.ReadAll(full);
        Assert.Equal(3, all.Count);

        var boundaries = BlockBoundaries(full);
        for (int cut = 0; cut < full.Length; cut++)
        {
            var (frames, end, error) = CaptureBytes.ReadAll(full[..cut]);
            int complete = blockEnds.Count(e => e <= cut);
            Assert.Equal(complete, frames.Count);
            for (int i = 0; i < frames.Count; i++) Assert.Equal(all[i].Data, frames[i].Data);
            if (cut > 0 && boundaries.Contains(cut))
            {
                Assert.Equal(CaptureReadStatus.EndOfCapture, end); // a clean end between blocks
                continue;
            }
            Assert.Equal(CaptureReadStatus.Error, end);
            // The error names the block that was cut: the last boundary before the cut.
            Assert.Equal(boundaries.Where(b => b <= cut).Max(), error!.ByteOffset);
            Assert.Equal(cut == 0 ? "empty_file" : cut < 4 ? "unknown_format" : "cut_short", error.Kind);
        }
    }

    private static List<int> BlockBoundaries(byte[] file)
    {
        var result = new List<int> { 0 };
        int offset = 0;
        bool bigEndian = false;
        while (offset < file.Length)
        {
            uint type = BitConverter.ToUInt32(file, offset);
            if (type == 0x0A0D0D0A) bigEndian = file[offset + 8] == 0x1A;
            uint length = bigEndian
                ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(offset + 4))
                : System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset + 4));
            offset += (int)length;
            result.Add(offset);
        }
        return result;
    }
}
