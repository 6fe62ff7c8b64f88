using TrafficStore.Ingest.Flows;

namespace TrafficStore.Ingest.Protocols;

/// <summary>Where in the capture a piece of a byte stream or a datagram came from.</summary>
/// <param name="FrameNumber">1-based frame number of the TCP segment or UDP datagram.</param>
/// <param name="TimestampNs">That frame's capture time, ns since the Unix epoch.</param>
public readonly record struct SegmentInfo(long FrameNumber, long TimestampNs);

/// <summary>
/// Parses one direction-tagged, in-order byte stream pair (a TCP connection after reassembly).
/// Parsers never throw on malformed or hostile input: they record an anomaly and either resync
/// or stop consuming. Data spans are only valid during the call; copy what must be kept.
/// </summary>
public interface IStreamParser
{
    /// <summary>The next in-order bytes of <paramref name="direction"/>, from the segment <paramref name="segment"/>.</summary>
    void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment);

    /// <summary><paramref name="missingBytes"/> bytes of <paramref name="direction"/> were never captured.</summary>
    void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment);

    /// <summary>The connection ended (FIN/RST/timeout or end of capture): flush what is pending.</summary>
    void OnEnd(long timestampNs);
}

/// <summary>Parses the datagrams of one UDP flow.</summary>
public interface IDatagramParser
{
    void OnDatagram(FlowDirection direction, ReadOnlySpan<byte> datagram, SegmentInfo segment);

    void OnEnd(long timestampNs);
}

/// <summary>Receives the rows a parser produces (exchanges, transactions, handshakes).</summary>
public interface IRowSink<in T>
{
    void Add(T row);
}

/// <summary>A sink that keeps rows in a list; for offline inspection and tests.</summary>
public sealed class ListSink<T> : IRowSink<T>
{
    public List<T> Rows { get; } = new();
    public void Add(T row) => Rows.Add(row);
}
