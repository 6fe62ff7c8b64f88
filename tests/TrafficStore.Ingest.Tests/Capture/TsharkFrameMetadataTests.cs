using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>
/// Every frame of every corpus capture against tshark's own reading of the file:
/// frame.number, frame.time_epoch (to the nanosecond), frame.len, frame.cap_len, frame.interface_id.
/// </summary>
public class TsharkFrameMetadataTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Frame_metadata_matches_tshark(string name)
    {
        var path = SharedData.Pcap(name);
        var expected = TsharkView.Frames(path);

        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        int i = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            Assert.True(i < expected.Count, $"more frames than tshark ({expected.Count})");
            var e = expected[i++];
            Assert.Equal(e.Number, frame.Number);
            Assert.Equal(e.TimestampNs, frame.TimestampNs);
            Assert.Equal(e.Length, frame.OriginalLength);
            Assert.Equal(e.CapturedLength, frame.Data.Length);
            Assert.Equal(e.InterfaceId, frame.InterfaceId);
        }
        Assert.Equal(expected.Count, i);
    }
}

/// <summary>
/// Two corpus pcapng files (different byte layouts, link types and interface counts) concatenated
/// are one file with two sections: frame numbers continue, interfaces restart, timestamps keep
/// each section's resolution — compared with tshark reading the same concatenation.
/// </summary>
public class MultiSectionTests
{
    [Fact]
    public void Concatenated_pcapng_files_read_as_sections_like_tshark()
    {
        var path = Path.Combine(Path.GetTempPath(), $"trafficstore-two-sections-{Environment.ProcessId}.pcapng");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(SharedData.Pcap("pcapng-multi-interface-dns.pcapng")),
            .. File.ReadAllBytes(SharedData.Pcap("grpc-bidi-streaming-h2c.pcapng"))]);
        try
        {
            var expected = TsharkView.Frames(path);
            List<CaptureBytes.Frame> frames;
            CaptureReadStatus end;
            CaptureError? error;
            using (var source = CaptureFile.Open(path)) (frames, end, error) = CaptureBytes.ReadAll(source);
            Assert.Equal(CaptureReadStatus.EndOfCapture, end);
            Assert.Null(error);
            Assert.Equal(expected.Count, frames.Count);
            Assert.Equal(expected.Select(e => (e.Number, e.TimestampNs, e.Length, e.CapturedLength, e.InterfaceId)),
                frames.Select(f => (f.Number, f.TimestampNs, f.OriginalLength, f.Data.Length, f.InterfaceId)));
            Assert.Contains(frames, f => f.LinkType == LinkType.Ethernet);
            Assert.Contains(frames, f => f.LinkType == LinkType.Null);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
