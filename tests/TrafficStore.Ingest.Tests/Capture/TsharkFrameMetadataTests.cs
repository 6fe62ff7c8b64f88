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
