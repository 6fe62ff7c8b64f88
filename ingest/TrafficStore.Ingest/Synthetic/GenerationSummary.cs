namespace TrafficStore.Ingest.Synthetic;

/// <summary>
/// What a generation produced, counted as the conversations are scripted. Tests compare these with
/// what tshark finds in the file; the demo prints them.
/// </summary>
public sealed class GenerationSummary
{
    public long Frames { get; internal set; }
    /// <summary>Bytes of the pcap file (headers included), when written to one.</summary>
    public long FileBytes { get; internal set; }
    /// <summary>Sum of frame lengths.</summary>
    public long FrameBytes { get; internal set; }
    public int TcpConnections { get; internal set; }
    /// <summary>DNS queries over UDP and TCP, answered or not (one row each in tshark-oracle's dns section).</summary>
    public int DnsQueries { get; internal set; }
    public int DnsUnanswered { get; internal set; }
    /// <summary>TCP connections that carry a ClientHello.</summary>
    public int TlsConnections { get; internal set; }
    public int Http1Exchanges { get; internal set; }
    /// <summary>gRPC calls, one HTTP/2 stream each.</summary>
    public int GrpcCalls { get; internal set; }
    public long FirstTimestampNs { get; internal set; }
    public long LastTimestampNs { get; internal set; }
    public TimeSpan Elapsed { get; internal set; }

    public int HttpExchanges => Http1Exchanges + GrpcCalls;

    public double MegabytesPerSecond => Elapsed.TotalSeconds > 0 ? FileBytes / 1e6 / Elapsed.TotalSeconds : 0;

    public override string ToString() =>
        $"{Frames} frames, {FileBytes / 1e6:F1} MB, {TcpConnections} TCP connections, {HttpExchanges} HTTP exchanges ({GrpcCalls} gRPC), " +
        $"{DnsQueries} DNS queries, {TlsConnections} TLS connections in {Elapsed.TotalSeconds:F2} s ({MegabytesPerSecond:F0} MB/s)";
}
