using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.Decode;

/// <summary>Reading and decoding allocate nothing per frame once warmed up.</summary>
public class AllocationTests
{
    [Theory]
    [InlineData("mixed-large-many-protocols.pcap")]
    [InlineData("grpc-unary-h2c.pcapng")]
    [InlineData("ipfrag-http-request.pcap")]
    [InlineData("ipv6-frag-dns.pcap")]
    [InlineData("vlan-double-tagged-http.pcap")]
    public void Read_and_decode_allocate_nothing_per_frame(string name)
    {
        var path = SharedData.Pcap(name);
        var decoder = new PacketDecoder();
        ReadAndDecode(path, decoder); // warm-up: JIT, buffers, reassembly slots

        // Each round opens its source outside the measurement (opening allocates the source and its buffer once).
        long frames = 0, checksum = 0;
        long allocated = Allocations.LeastOf(3, () => CaptureFile.Open(path), source =>
        {
            var frame = new CaptureFrame();
            frames = checksum = 0;
            while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            {
                frames++;
                if (decoder.Decode(in frame, out var packet, out var payload) == DecodeStatus.Decoded)
                    checksum += packet.SourcePort + payload.Length;
            }
        });

        Assert.True(frames > 0);
        Assert.True(checksum > 0);
        Assert.True(allocated <= 1024, $"{allocated} bytes allocated for {frames} frames of {name}");
    }

    private static void ReadAndDecode(string path, PacketDecoder decoder)
    {
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            decoder.Decode(in frame, out _, out _);
    }
}
