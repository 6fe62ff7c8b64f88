namespace TrafficStore.Ingest.Decode;

/// <summary>Limits of the packet decoder. Hitting any of them records an anomaly.</summary>
public sealed record DecoderOptions
{
    /// <summary>Reassemble IPv4 and IPv6 fragments. When false every fragment is returned as <see cref="DecodeStatus.OtherIp"/>.</summary>
    public bool ReassembleFragments { get; init; } = true;

    /// <summary>Most datagrams waiting for fragments at once; the oldest is dropped beyond it (<c>fragment_memory_limit</c>).</summary>
    public int MaxPendingDatagrams { get; init; } = 256;

    /// <summary>
    /// Most bytes of reassembly buffers held at once (buffer sizes, not just fragment bytes); the
    /// oldest datagrams are dropped beyond it (<c>fragment_memory_limit</c>).
    /// </summary>
    public int MaxPendingFragmentBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// A pending datagram is dropped (<c>fragment_timeout</c>) once capture time is this far past its
    /// first fragment. 60 s is RFC 8200's IPv6 reassembly time and above Linux's 30 s IPv4 default.
    /// </summary>
    public TimeSpan FragmentTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Most IP-in-IP / GRE encapsulations followed to the innermost header (<c>tunnel_depth_limit</c>).</summary>
    public int MaxTunnelDepth { get; init; } = 8;

    public static DecoderOptions Default { get; } = new();
}
