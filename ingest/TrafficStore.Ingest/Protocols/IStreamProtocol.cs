using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols;

/// <summary>Answer of a classifier that looks at the first bytes of a stream.</summary>
public enum ProtocolMatch : byte
{
    /// <summary>These bytes cannot start this protocol.</summary>
    No,
    /// <summary>Too few bytes to tell; ask again with more.</summary>
    NeedMoreData,
    /// <summary>These bytes start this protocol.</summary>
    Yes,
}

/// <summary>
/// A protocol that runs over TCP byte streams. One instance per pipeline; it creates one parser
/// per connection. Detection is by content first (<see cref="Classify"/>) and by port as a hint.
/// </summary>
public interface IStreamProtocol
{
    /// <summary>Stable lowercase name ("http", "http2", "tls", "dns").</summary>
    string Name { get; }

    /// <summary>True when the server port is this protocol's well-known port (used when content is not decisive).</summary>
    bool IsWellKnownPort(ushort serverPort);

    /// <summary>Looks at the first bytes the <paramref name="direction"/> side sent.</summary>
    ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes);

    IStreamParser CreateParser(FlowContext flow);
}

/// <summary>A protocol that runs over UDP datagrams.</summary>
public interface IDatagramProtocol
{
    string Name { get; }

    bool IsWellKnownPort(ushort port);

    ProtocolMatch Classify(ReadOnlySpan<byte> datagram);

    IDatagramParser CreateParser(FlowContext flow);
}
