using System.Net;
using System.Net.Sockets;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>
/// libpcap is an independent reader of the same files: every frame it hands out must equal ours,
/// byte for byte. (libpcap refuses pcapng files whose interfaces differ in link type.)
/// </summary>
public class LibpcapSourceTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Frames_equal_libpcaps_reading(string name)
    {
        var path = SharedData.Pcap(name);
        using var reference = LibpcapSource.OpenFile(path);
        using var ours = CaptureFile.Open(path);
        var (expected, expectedEnd, _) = CaptureBytes.ReadAll(reference);
        var (actual, actualEnd, _) = CaptureBytes.ReadAll(ours);

        if (expectedEnd == CaptureReadStatus.Error && expected.Count == 0 && name.EndsWith(".pcapng", StringComparison.Ordinal))
        {
            // libpcap cannot represent per-packet link types; our reader must still read the file.
            Assert.Equal(CaptureReadStatus.EndOfCapture, actualEnd);
            Assert.Contains(actual, f => f.LinkType != actual[0].LinkType);
            return;
        }
        Assert.Equal(expected.Count, actual.Count);
        Assert.Equal(expectedEnd, actualEnd);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Number, actual[i].Number);
            Assert.Equal(expected[i].TimestampNs, actual[i].TimestampNs);
            Assert.Equal(expected[i].OriginalLength, actual[i].OriginalLength);
            Assert.Equal(expected[i].LinkType, actual[i].LinkType);
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    [Fact]
    public void Reading_through_libpcap_allocates_nothing_per_frame()
    {
        var path = SharedData.Pcap("mixed-large-many-protocols.pcap");
        using (var warm = LibpcapSource.OpenFile(path)) CaptureBytes.ReadAll(warm);
        long frames = 0;
        long allocated = Allocations.LeastOf(3, () => LibpcapSource.OpenFile(path), source =>
        {
            var frame = new CaptureFrame();
            frames = 0;
            while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) frames++;
        });
        Assert.True(frames > 1000);
        Assert.True(allocated <= 1024, $"{allocated} bytes for {frames} frames");
    }

    [Fact]
    public void Missing_interface_is_an_error_not_an_exception()
    {
        using var source = LibpcapSource.OpenLive("no-such-interface-42");
        var frame = new CaptureFrame();
        Assert.Equal(CaptureReadStatus.Error, source.TryReadNext(ref frame));
        Assert.Equal("open_failed", source.Error!.Kind);
        Assert.Equal("no-such-interface-42", source.Error.Source);
    }

    /// <summary>
    /// Captures a UDP datagram sent to ourselves on the loopback interface. Needs capture
    /// privileges (root or CAP_NET_RAW); without them the open error is checked instead.
    /// </summary>
    [Fact]
    public void Live_loopback_capture_sees_a_datagram_we_send()
    {
        using var receiver = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)receiver.Client.LocalEndPoint!).Port;
        using var source = LibpcapSource.OpenLive("lo", new LiveCaptureOptions { Filter = $"udp port {port}", ReadTimeout = TimeSpan.FromMilliseconds(50) });
        if (source is not LibpcapSource live)
        {
            var frame0 = new CaptureFrame();
            Assert.Equal(CaptureReadStatus.Error, source.TryReadNext(ref frame0));
            Assert.Equal("open_failed", source.Error!.Kind);
            return;
        }
        using var sender = new UdpClient();
        var message = "trafficstore-live-test"u8.ToArray();
        using var timer = new Timer(_ => live.Stop(), null, TimeSpan.FromSeconds(10), Timeout.InfiniteTimeSpan);
        using var pump = new Timer(_ => sender.Send(message, message.Length, new IPEndPoint(IPAddress.Loopback, port)), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));

        var decoder = new PacketDecoder();
        var frame = new CaptureFrame();
        bool seen = false;
        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000L - 1_000_000_000L;
        while (!seen && source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            if (decoder.Decode(in frame, out var packet, out var payload) != DecodeStatus.Decoded) continue;
            if (packet.IsUdp && packet.DestinationPort == port && payload.SequenceEqual(message))
            {
                seen = true;
                Assert.True(frame.TimestampNs > before);
                Assert.Equal(NetAddress.Parse("127.0.0.1"), packet.Destination);
            }
        }
        Assert.True(seen, "the datagram was not captured within 10 s");
    }
}
