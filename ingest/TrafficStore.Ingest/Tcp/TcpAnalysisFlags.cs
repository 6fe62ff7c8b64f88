namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>
/// The per-packet TCP expert flags of tshark 4.0's sequence analysis (tcp.analysis.*). Internally
/// tshark keeps exactly one of the retransmission family (plain, fast, spurious, out-of-order);
/// <see cref="TcpAnalysisFlagsExtensions.IsRetransmissionFamily"/> tells how the oracle counts them.
/// </summary>
[Flags]
public enum TcpAnalysisFlags : uint
{
    None = 0,
    Retransmission = 1 << 0,
    LostSegment = 1 << 1,
    AckLostSegment = 1 << 2,
    KeepAlive = 1 << 3,
    DuplicateAck = 1 << 4,
    ZeroWindow = 1 << 5,
    ZeroWindowProbe = 1 << 6,
    ZeroWindowProbeAck = 1 << 7,
    KeepAliveAck = 1 << 8,
    OutOfOrder = 1 << 9,
    FastRetransmission = 1 << 10,
    WindowUpdate = 1 << 11,
    WindowFull = 1 << 12,
    ReusedPorts = 1 << 13,
    SpuriousRetransmission = 1 << 14,
}

public static class TcpAnalysisFlagsExtensions
{
    /// <summary>
    /// True when tshark emits tcp.analysis.retransmission for the packet: plain, fast and spurious
    /// retransmissions all carry it (out-of-order does not).
    /// </summary>
    public static bool IsRetransmissionFamily(this TcpAnalysisFlags f) =>
        (f & (TcpAnalysisFlags.Retransmission | TcpAnalysisFlags.FastRetransmission | TcpAnalysisFlags.SpuriousRetransmission)) != 0;
}
