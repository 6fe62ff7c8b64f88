using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Pipeline;

/// <summary>
/// Every corpus capture, cut short at many points and with random bytes flipped inside its frames
/// (fixed seeds), through the whole pipeline with every protocol: nothing throws, and what is
/// allocated stays within a bound proportional to the input.
/// </summary>
public class CorpusRobustnessTests
{
    private const int Cuts = 12;

    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void TruncatedAtManyPointsNeverThrows(string capture)
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Pcap(capture));
        var rng = new Random(capture.Length * 7919);
        var cuts = Enumerable.Range(1, Cuts).Select(i => (int)((long)bytes.Length * i / (Cuts + 1)))
            .Concat(Enumerable.Range(0, 4).Select(_ => rng.Next(bytes.Length)))
            .Distinct();
        foreach (int cut in cuts)
        {
            using var source = CaptureFile.Open(new MemoryStream(bytes, 0, cut, writable: false), $"{capture}[..{cut}]");
            RunBounded(source, cut);
        }
    }

    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void RandomByteFlipsInFramesNeverThrow(string capture)
    {
        byte[] bytes = File.ReadAllBytes(SharedData.Pcap(capture));
        for (int seed = 1; seed <= 3; seed++)
        {
            using var inner = CaptureFile.Open(new MemoryStream(bytes, writable: false), capture);
            using var source = new ByteFlippingSource(inner, seed, flipsPer1000: seed * 2);
            RunBounded(source, bytes.Length);
        }
    }

    private static void RunBounded(ICaptureSource source, long inputBytes)
    {
        var http = new ListSink<HttpExchange>();
        var set = new ProtocolSet(http, new ListSink<DnsTransaction>(), new ListSink<TlsHandshake>());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = new IngestPipeline(new ListSink<ConnectionRecord>(), set.StreamProtocols, set.DatagramProtocols).Run(source);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(result.Frames >= 0);
        // Bodies are kept whole (raw and decoded), so allocation scales with the input; a parser
        // that allocates without bound on hostile lengths would blow far past this.
        Assert.True(allocated < 64 * inputBytes + (64L << 20), $"{source.Name}: {allocated:N0} bytes allocated for {inputBytes:N0} input bytes");
    }

    /// <summary>Hands out the inner source's frames with some bytes past the first 14 flipped.</summary>
    private sealed class ByteFlippingSource : ICaptureSource
    {
        private readonly ICaptureSource _inner;
        private readonly Random _rng;
        private readonly int _flipsPer1000;
        private byte[] _buffer = new byte[65536];

        public ByteFlippingSource(ICaptureSource inner, int seed, int flipsPer1000)
        {
            _inner = inner;
            _rng = new Random(seed);
            _flipsPer1000 = flipsPer1000;
        }

        public string Name => _inner.Name + " (flipped)";
        public CaptureError? Error => _inner.Error;

        public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
        {
            var status = _inner.TryReadNext(ref frame);
            if (status != CaptureReadStatus.Frame) return status;
            if (_buffer.Length < frame.Data.Length) _buffer = new byte[frame.Data.Length];
            var copy = _buffer.AsSpan(0, frame.Data.Length);
            frame.Data.CopyTo(copy);
            for (int i = 14; i < copy.Length; i++)
            {
                if (_rng.Next(1000) < _flipsPer1000) copy[i] ^= (byte)(1 << _rng.Next(8));
            }
            frame.Data = copy;
            return status;
        }

        public void Dispose() => _inner.Dispose();
    }
}
