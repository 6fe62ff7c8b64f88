using TrafficStore.Ingest.Capture;

namespace TrafficStore.Ingest.Tests.Capture;

public class PcapReaderTests
{
    private static readonly byte[] A = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    private static readonly byte[] B = [0xAA, 0xBB, 0xCC];

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Reads_both_byte_orders_and_both_resolutions(bool bigEndian, bool nanoseconds)
    {
        var file = CaptureBytes.Pcap(bigEndian, nanoseconds, 65535, 1)
            .PcapRecord(1_700_000_000, 123_456, A, originalLength: 60)
            .PcapRecord(1_700_000_001, 999_999, B)
            .ToArray();

        var (frames, end, error) = CaptureBytes.ReadAll(file);

        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Null(error);
        Assert.Equal(2, frames.Count);
        long unit = nanoseconds ? 1 : 1000;
        Assert.Equal(1_700_000_000L * 1_000_000_000 + 123_456 * unit, frames[0].TimestampNs);
        Assert.Equal(1_700_000_001L * 1_000_000_000 + 999_999 * unit, frames[1].TimestampNs);
        Assert.Equal(A, frames[0].Data);
        Assert.Equal(B, frames[1].Data);
        Assert.Equal(60, frames[0].OriginalLength);
        Assert.Equal(3, frames[1].OriginalLength);
        Assert.Equal([1L, 2L], frames.Select(f => f.Number));
        Assert.Equal(24, frames[0].FileOffset);
        Assert.Equal(24 + 16 + A.Length, frames[1].FileOffset);
        Assert.All(frames, f => Assert.Equal(LinkType.Ethernet, f.LinkType));
        Assert.All(frames, f => Assert.Equal(0, f.InterfaceId));
    }

    [Fact]
    public void Fcs_bits_in_the_link_type_field_are_masked()
    {
        // FCS length 4 (bits 28-31 = 0b0010 with the F bit set) on top of LINKTYPE_LINUX_SLL.
        uint field = (0x2u << 29) | (1u << 28) | 113;
        var file = CaptureBytes.Pcap(false, false, 65535, field).PcapRecord(1, 0, A).ToArray();
        var (frames, _, _) = CaptureBytes.ReadAll(file);
        Assert.Equal(LinkType.LinuxSll, Assert.Single(frames).LinkType);
    }

    [Fact]
    public void Absurd_record_length_is_reported_with_its_offset_after_earlier_frames()
    {
        var file = CaptureBytes.Pcap(false, false, 65535, 1)
            .PcapRecord(1, 0, A)
            .PcapRecord(2, 0, B, capturedLength: 300_000)
            .ToArray();
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("bad_record_length", error!.Kind);
        Assert.Equal(24 + 16 + A.Length, error.ByteOffset);
        Assert.Equal("test.pcap", error.Source);
    }

    [Fact]
    public void Record_longer_than_the_snaplen_is_accepted_as_wiretap_and_libpcap_do()
    {
        // Deliberate difference from a strict reading: tshark (wiretap) and libpcap only reject
        // records above the absolute maximum; a stale snaplen in the header is common after editing.
        var file = CaptureBytes.Pcap(false, false, 4, 1).PcapRecord(1, 0, A).PcapRecord(2, 0, B).ToArray();
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Null(error);
        Assert.Equal(A, frames[0].Data);
    }

    [Fact]
    public void Strict_snaplen_check_is_available_as_an_option()
    {
        var file = CaptureBytes.Pcap(false, false, 5, 1).PcapRecord(1, 0, B).PcapRecord(2, 0, A).ToArray();
        using var source = CaptureFile.Open(new MemoryStream(file), "strict.pcap", new CaptureFileOptions { RejectRecordsAboveSnapLength = true });
        var (frames, end, error) = CaptureBytes.ReadAll(source);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal(("bad_record_length", 24L + 16 + B.Length), (error!.Kind, error.ByteOffset));
    }

    [Fact]
    public void Record_length_limit_is_an_option()
    {
        var file = CaptureBytes.Pcap(false, false, 65535, 1).PcapRecord(1, 0, A).PcapRecord(2, 0, new byte[100]).ToArray();
        using var source = CaptureFile.Open(new MemoryStream(file), "small-limit.pcap", new CaptureFileOptions { MaxRecordLength = 64 });
        var (frames, end, error) = CaptureBytes.ReadAll(source);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal(("bad_record_length", 24L + 16 + A.Length), (error!.Kind, error.ByteOffset));
    }

    [Fact]
    public void Record_cut_short_is_reported_after_all_complete_frames()
    {
        var full = CaptureBytes.Pcap(false, false, 65535, 1).PcapRecord(1, 0, A).PcapRecord(2, 0, B).ToArray();
        var file = full[..^1];
        var (frames, end, error) = CaptureBytes.ReadAll(file);
        Assert.Single(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("cut_short", error!.Kind);
        Assert.Equal(24 + 16 + A.Length, error.ByteOffset);
    }

    [Fact]
    public void Header_only_file_has_no_frames_and_no_error()
    {
        var (frames, end, error) = CaptureBytes.ReadAll(CaptureBytes.Pcap(true, true, 0, 1).ToArray());
        Assert.Empty(frames);
        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Null(error);
    }

    [Fact]
    public void Cut_at_every_offset_never_throws_and_names_the_offset()
    {
        var full = CaptureBytes.Pcap(false, true, 65535, 1).PcapRecord(1, 5, A).PcapRecord(2, 6, B).PcapRecord(3, 7, A).ToArray();
        int[] recordStarts = [24, 24 + 16 + A.Length, 24 + 16 + A.Length + 16 + B.Length];
        for (int cut = 0; cut < full.Length; cut++)
        {
            var (frames, end, error) = CaptureBytes.ReadAll(full[..cut]);
            int complete = recordStarts.Count(start => cut >= start + 16 + (start == recordStarts[1] ? B.Length : A.Length));
            Assert.Equal(complete, frames.Count);
            bool atBoundary = cut >= 24 && (cut == recordStarts[1] || cut == recordStarts[2]);
            if (cut == 24 || atBoundary)
            {
                Assert.Equal(CaptureReadStatus.EndOfCapture, end);
                continue;
            }
            Assert.Equal(CaptureReadStatus.Error, end);
            Assert.NotNull(error);
            if (cut == 0) Assert.Equal("empty_file", error.Kind);
            else if (cut < 4) Assert.Equal("unknown_format", error.Kind);
            else if (cut < 24) Assert.Equal(0, error.ByteOffset);
            else Assert.Equal(recordStarts[complete], error.ByteOffset);
            if (cut >= 4) Assert.Equal("cut_short", error.Kind);
        }
    }

    [Fact]
    public void Unknown_format_is_an_error_not_an_exception()
    {
        var (frames, end, error) = CaptureBytes.ReadAll("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), "notes.txt");
        Assert.Empty(frames);
        Assert.Equal(CaptureReadStatus.Error, end);
        Assert.Equal("unknown_format", error!.Kind);
        Assert.Equal(0, error.ByteOffset);
        Assert.Contains("notes.txt", error.ToString());
    }

    [Fact]
    public void Empty_file_is_an_error_not_an_exception()
    {
        var path = Path.GetTempFileName();
        try
        {
            using var source = CaptureFile.Open(path);
            var (frames, end, error) = CaptureBytes.ReadAll(source);
            Assert.Empty(frames);
            Assert.Equal(CaptureReadStatus.Error, end);
            Assert.Equal("empty_file", error!.Kind);
            Assert.Equal(path, error.Source);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Missing_file_throws_FileNotFoundException()
    {
        Assert.Throws<FileNotFoundException>(() => CaptureFile.Open(Path.Combine(Path.GetTempPath(), "no-such-capture-" + Guid.NewGuid() + ".pcap")));
    }

    [Fact]
    public void Records_larger_than_the_buffer_grow_it()
    {
        var big = new byte[200_000];
        new Random(7).NextBytes(big);
        var file = CaptureBytes.Pcap(false, false, 262144, 1).PcapRecord(1, 0, A).PcapRecord(2, 0, big).PcapRecord(3, 0, B).ToArray();
        using var source = CaptureFile.Open(new MemoryStream(file), "big.pcap", new CaptureFileOptions { BufferSize = 4096 });
        var (frames, end, _) = CaptureBytes.ReadAll(source);
        Assert.Equal(CaptureReadStatus.EndOfCapture, end);
        Assert.Equal(big, frames[1].Data);
        Assert.Equal(B, frames[2].Data);
    }
}
