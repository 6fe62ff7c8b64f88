using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Benchmarks.Micro;

/// <summary><c>TrafficStore.Benchmarks micro [BenchmarkDotNet arguments]</c>: per-packet costs with allocations.</summary>
public static class MicroBenchmarks
{
    public static int Run(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromTypes(new[] { typeof(DecoderBenchmarks), typeof(AnalyzerBenchmarks) })
            .Run(args.Length == 0 ? new[] { "--filter", "*" } : args);
        return summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
    }

    /// <summary>
    /// An Ethernet II / IPv4 (no options) / TCP frame with a 12-byte timestamp option, as most
    /// frames of a Linux capture look.
    /// <code>
    /// | dst mac 6 | src mac 6 | type 0x0800 | IPv4 20 | TCP 32 | payload |
    /// </code>
    /// </summary>
    internal static byte[] EthernetIpv4TcpFrame(int payloadLength, uint seq, uint ack, byte flags)
    {
        var f = new byte[14 + 20 + 32 + payloadLength];
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        var ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 32 + payloadLength));
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        new byte[] { 10, 0, 0, 1 }.CopyTo(ip[12..]);
        new byte[] { 10, 0, 0, 2 }.CopyTo(ip[16..]);
        var tcp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 443);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = 8 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 502);
        tcp[20] = 1; tcp[21] = 1; tcp[22] = 8; tcp[23] = 10; // NOP NOP timestamps
        return f;
    }
}

[MemoryDiagnoser]
public class DecoderBenchmarks
{
    private readonly PacketDecoder _decoder = new();
    private byte[] _frame = Array.Empty<byte>();

    [Params(0, 1448)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup() => _frame = MicroBenchmarks.EthernetIpv4TcpFrame(Payload, 1000, 2000, 0x18);

    [Benchmark]
    public int DecodeEthernetIpv4Tcp()
    {
        _decoder.Decode(_frame, LinkType.Ethernet, 1, 1_000_000_000, _frame.Length, 0, out var packet, out var payload);
        return packet.SourcePort + payload.Length;
    }
}

/// <summary>Flow lookup + TCP sequence analysis + reassembly for one data segment and its ACK on an established connection.</summary>
[MemoryDiagnoser]
public class AnalyzerBenchmarks
{
    private readonly PacketDecoder _decoder = new();
    private IngestPipeline _pipeline = null!;
    private byte[] _data = Array.Empty<byte>(), _ack = Array.Empty<byte>();
    private DecodedPacket _c, _s;
    private uint _seq = 1001;
    private long _ts = 1_000_000_000, _frameNumber = 3;

    [GlobalSetup]
    public void Setup()
    {
        _pipeline = new IngestPipeline(new NullSink());
        Feed(MicroBenchmarks.EthernetIpv4TcpFrame(0, 1000, 0, 0x02), 1);
        var synAck = MicroBenchmarks.EthernetIpv4TcpFrame(0, 5000, 1001, 0x12);
        Swap(synAck);
        Feed(synAck, 2);
        _data = MicroBenchmarks.EthernetIpv4TcpFrame(1448, 1001, 5001, 0x18);
        _ack = MicroBenchmarks.EthernetIpv4TcpFrame(0, 5001, 1001, 0x10);
        Swap(_ack);
        _decoder.Decode(_data, LinkType.Ethernet, 3, _ts, _data.Length, 0, out _c, out _);
        _decoder.Decode(_ack, LinkType.Ethernet, 4, _ts, _ack.Length, 0, out _s, out _);
    }

    [Benchmark(OperationsPerInvoke = 2)]
    public long DataSegmentAndAck()
    {
        _c.Sequence = _seq; _c.TimestampNs = _ts += 1000; _c.FrameNumber = _frameNumber++;
        long id = _pipeline.ProcessPacket(_c, _data.AsSpan(66));
        _seq += 1448;
        _s.Acknowledgment = _seq; _s.TimestampNs = _ts += 1000; _s.FrameNumber = _frameNumber++;
        return id + _pipeline.ProcessPacket(_s, ReadOnlySpan<byte>.Empty);
    }

    private void Feed(byte[] frame, long number)
    {
        if (_decoder.Decode(frame, LinkType.Ethernet, number, _ts += 1000, frame.Length, 0, out var p, out var payload) == DecodeStatus.Decoded)
            _pipeline.ProcessPacket(p, payload);
    }

    /// <summary>Turns a client→server frame into server→client (addresses and ports swapped).</summary>
    private static void Swap(byte[] f)
    {
        var ip = f.AsSpan(14);
        Span<byte> tmp = stackalloc byte[4];
        ip[12..16].CopyTo(tmp); ip[16..20].CopyTo(ip[12..]); tmp.CopyTo(ip[16..]);
        var tcp = ip[20..];
        tcp[..2].CopyTo(tmp); tcp[2..4].CopyTo(tcp); tmp[..2].CopyTo(tcp[2..]);
    }

    private sealed class NullSink : IRowSink<ConnectionRecord>
    {
        public void Add(ConnectionRecord row) { }
    }
}
