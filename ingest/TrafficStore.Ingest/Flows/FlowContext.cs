using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Flows;

public enum Transport : byte
{
    Tcp = 6,
    Udp = 17,
}

/// <summary>
/// What a protocol parser knows about the flow it parses: the connection id that links its rows
/// to the connections table, and who is client and who is server.
/// </summary>
public sealed class FlowContext
{
    public FlowContext(long connectionId, Transport transport, NetAddress clientIp, ushort clientPort, NetAddress serverIp, ushort serverPort)
    {
        ConnectionId = connectionId;
        Transport = transport;
        ClientIp = clientIp;
        ClientPort = clientPort;
        ServerIp = serverIp;
        ServerPort = serverPort;
    }

    /// <summary>
    /// For TCP the tshark-compatible stream index (tcp.stream) within one capture; the store
    /// makes it globally unique by combining it with the capture's id.
    /// </summary>
    public long ConnectionId { get; }
    public Transport Transport { get; }
    public NetAddress ClientIp { get; }
    public ushort ClientPort { get; }
    public NetAddress ServerIp { get; }
    public ushort ServerPort { get; }
}
