using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>One side of a simulated TCP connection: its send and receive sequence state.</summary>
internal sealed class TcpPeer
{
    public TcpPeer(SimulatedHost host, ushort port, uint isn, int windowBytes, byte windowScale, uint timestampBase)
    {
        Host = host;
        Port = port;
        Isn = isn;
        Next = isn;
        WindowBytes = windowBytes;
        WindowScale = windowScale;
        TimestampBase = timestampBase;
        IpId = (ushort)(timestampBase * 7);
    }

    public SimulatedHost Host { get; }
    public ushort Port { get; }
    public uint Isn { get; }

    /// <summary>SND.NXT: the sequence number of the next new byte this side sends.</summary>
    public uint Next { get; set; }

    /// <summary>RCV.NXT: what this side acknowledges (the peer's next expected byte).</summary>
    public uint ReceiveNext { get; set; }

    /// <summary>Receive window this side advertises, in bytes (before window scaling).</summary>
    public int WindowBytes { get; set; }

    /// <summary>Shift count this side announced in its SYN (RFC 7323 section 2.3).</summary>
    public byte WindowScale { get; }

    /// <summary>Base of this side's RFC 7323 TSval clock (a millisecond counter).</summary>
    public uint TimestampBase { get; }

    /// <summary>The latest TSval seen from the peer, echoed in TSecr.</summary>
    public uint TimestampEcho { get; set; }

    public ushort IpId { get; set; }

    /// <summary>Maximum payload per segment (MSS minus the 12 bytes of the timestamp option).</summary>
    public int SegmentSize { get; set; } = 1448;
}
