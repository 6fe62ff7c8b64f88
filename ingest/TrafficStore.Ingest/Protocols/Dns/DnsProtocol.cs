using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// DNS over UDP and TCP, including mDNS (RFC 6762, port 5353) and LLMNR (RFC 4795, port 5355),
/// which share the message format; their rows carry variant "mdns" / "llmnr".
/// Rows go to the sink as transactions complete; sort by <see cref="DnsTransaction.OrderFrame"/>
/// for the table order.
/// </summary>
public sealed class DnsProtocol : IDatagramProtocol, IStreamProtocol
{
    public const ushort DnsPort = 53, MdnsPort = 5353, LlmnrPort = 5355;

    private readonly IRowSink<DnsTransaction> _sink;
    private readonly DnsOptions _options;

    public DnsProtocol(IRowSink<DnsTransaction> sink, DnsOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _options = options ?? new DnsOptions();
    }

    public string Name => "dns";

    public bool IsWellKnownPort(ushort port) => port is DnsPort or MdnsPort or LlmnrPort;

    /// <summary>
    /// Over UDP the content cannot decide: NBNS (port 137) and other protocols share the DNS wire
    /// format. Like tshark, DNS over UDP is chosen by port (<see cref="IsWellKnownPort"/>), so this
    /// answers NeedMoreData for a plausible DNS message and No otherwise.
    /// </summary>
    public ProtocolMatch Classify(ReadOnlySpan<byte> datagram) =>
        DnsClassifier.ClassifyMessage(datagram) == ProtocolMatch.Yes ? ProtocolMatch.NeedMoreData : ProtocolMatch.No;

    public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes) => DnsClassifier.ClassifyStream(firstBytes);

    IDatagramParser IDatagramProtocol.CreateParser(FlowContext flow) => new DnsDatagramParser(flow, _sink, _options);

    IStreamParser IStreamProtocol.CreateParser(FlowContext flow) => new DnsStreamParser(flow, _sink, _options);

    /// <summary>"mdns" or "llmnr" when either port is theirs, else "dns".</summary>
    public static string VariantOf(ushort clientPort, ushort serverPort) =>
        clientPort == MdnsPort || serverPort == MdnsPort ? "mdns"
        : clientPort == LlmnrPort || serverPort == LlmnrPort ? "llmnr"
        : "dns";
}
