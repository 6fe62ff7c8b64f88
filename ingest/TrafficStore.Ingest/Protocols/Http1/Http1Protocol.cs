using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http1;

/// <summary>
/// HTTP/1.0 and HTTP/1.1 over TCP (RFC 9112). Recognised by content: a client stream starting
/// with a known method and a space, or a server stream starting with "HTTP/1.x ddd". Rows go to
/// <paramref name="sink"/> as <see cref="HttpExchange"/>s; an <c>Upgrade: h2c</c> answered by 101
/// hands the rest of the connection to the parser made by <paramref name="h2cUpgrade"/>.
/// </summary>
public sealed class Http1Protocol(IRowSink<HttpExchange> sink, Http1Options? options = null, Func<FlowContext, IStreamParser>? h2cUpgrade = null)
    : IStreamProtocol
{
    private static readonly ushort[] WellKnownPorts = { 80, 591, 3128, 8000, 8008, 8080, 8081, 8088, 8888 };

    private readonly IRowSink<HttpExchange> _sink = sink ?? throw new ArgumentNullException(nameof(sink));
    private readonly Http1Options _options = options ?? Http1Options.Default;

    public string Name => "http";

    public bool IsWellKnownPort(ushort serverPort) => Array.IndexOf(WellKnownPorts, serverPort) >= 0;

    /// <summary>
    /// A request line or a status line, whichever direction it comes from: a connection picked up
    /// without its SYN may have client and server swapped, and the parser follows the content.
    /// </summary>
    public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes)
    {
        var request = Http1Syntax.ClassifyRequest(firstBytes);
        var response = Http1Syntax.ClassifyResponse(firstBytes);
        if (request == ProtocolMatch.Yes || response == ProtocolMatch.Yes) return ProtocolMatch.Yes;
        return request == ProtocolMatch.NeedMoreData || response == ProtocolMatch.NeedMoreData ? ProtocolMatch.NeedMoreData : ProtocolMatch.No;
    }

    public IStreamParser CreateParser(FlowContext flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        return new Http1ConnectionParser(flow, _sink, _options, h2cUpgrade);
    }
}
