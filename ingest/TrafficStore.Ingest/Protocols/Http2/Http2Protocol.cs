using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>
/// HTTP/2 over cleartext TCP (h2c, prior knowledge or Upgrade), including gRPC. Recognised by
/// content on any port: the client connection preface (RFC 9113 §3.4), or, for connections
/// picked up mid-stream, a chain of plausible frame headers. One row per stream goes to the sink.
/// </summary>
public sealed class Http2Protocol : IStreamProtocol
{
    private readonly IRowSink<HttpExchange> _sink;
    private readonly Http2Options _options;
    private readonly Func<long> _nextExchangeId;
    private long _lastExchangeId;

    public Http2Protocol(IRowSink<HttpExchange> sink, Http2Options? options = null, Func<long>? nextExchangeId = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _options = options ?? Http2Options.Default;
        _nextExchangeId = nextExchangeId ?? (() => Interlocked.Increment(ref _lastExchangeId));
    }

    public string Name => "http2";

    /// <summary>h2c has no port of its own (port 80 belongs to HTTP/1.1): detection is by content.</summary>
    public bool IsWellKnownPort(ushort serverPort) => false;

    public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes)
    {
        var preface = Http2Connection.Preface;
        if (direction == FlowDirection.ClientToServer)
        {
            int n = Math.Min(firstBytes.Length, preface.Length);
            if (firstBytes[..n].SequenceEqual(preface[..n]))
                return n == preface.Length ? ProtocolMatch.Yes : ProtocolMatch.NeedMoreData;
        }
        // No preface (the server side, or a capture that starts mid-connection): a chain of frame
        // headers that a peer would send. Two headers, or one frame that ends exactly with the data.
        if (firstBytes.Length < Http2FrameHeader.Size) return ProtocolMatch.NeedMoreData;
        int frames = Http2FrameHeader.CountPlausibleFrames(firstBytes, out bool boundary);
        if (frames >= 2 || (frames == 1 && boundary)) return ProtocolMatch.Yes;
        if (frames == 1) return ProtocolMatch.NeedMoreData;
        return ProtocolMatch.No;
    }

    public IStreamParser CreateParser(FlowContext flow) => new Http2Connection(flow, _sink, _options, _nextExchangeId);

    /// <summary>
    /// The parser for the rest of a connection after HTTP/1.1 "Upgrade: h2c" and "101 Switching
    /// Protocols" (RFC 7540 §3.2): feed it the client bytes after the upgrade request (starting
    /// with the preface) and the server bytes after the 101. The response to the upgrade request
    /// arrives on stream 1 and becomes a row without a request half (as tshark shows it).
    /// </summary>
    public IStreamParser CreateUpgradedParser(FlowContext flow) => new Http2Connection(flow, _sink, _options, _nextExchangeId, upgraded: true);
}
