namespace TrafficStore.Ingest.Decode;

/// <summary>
/// The closed set of oddities the decoder records. Each has a stable snake_case name
/// (<see cref="DecodeAnomalyNames.Name"/>) used in statistics and stored columns.
/// </summary>
public enum DecodeAnomaly : byte
{
    None,
    /// <summary>The link-layer header (Ethernet, VLAN tag, SLL, loopback family) is cut short.</summary>
    TruncatedLink,
    /// <summary>The frame's link type is not supported.</summary>
    UnsupportedLinkType,
    /// <summary>An IPv4/IPv6 header or IPv6 extension header is cut short.</summary>
    TruncatedIp,
    /// <summary>The IP version nibble does not match the link layer's claim.</summary>
    BadIpVersion,
    /// <summary>IPv4 IHL below 5 (20 bytes).</summary>
    BadIpHeaderLength,
    /// <summary>IPv4 total length smaller than its header.</summary>
    BadIpTotalLength,
    /// <summary>IP total/payload length claims more bytes than the frame had on the wire; the frame's length is used.</summary>
    IpLengthExceedsFrame,
    /// <summary>The TCP fixed header (20 bytes) is cut short.</summary>
    TruncatedTcp,
    /// <summary>TCP data offset below 5 or beyond the segment.</summary>
    BadTcpHeaderLength,
    /// <summary>A TCP option with an impossible length; option parsing stopped there.</summary>
    BadTcpOption,
    /// <summary>TCP options were not all captured (snaplen); the fixed header is complete.</summary>
    TruncatedTcpOptions,
    /// <summary>The UDP header (8 bytes) is cut short.</summary>
    TruncatedUdp,
    /// <summary>UDP length below 8 or beyond the IP payload.</summary>
    BadUdpLength,
    /// <summary>A fragment overlaps data already held; the first-arrived bytes are kept.</summary>
    FragmentOverlap,
    /// <summary>A pending datagram was dropped because its first fragment is older than the timeout.</summary>
    FragmentTimeout,
    /// <summary>A pending datagram was dropped to stay within the pending-datagram or byte limit.</summary>
    FragmentMemoryLimit,
    /// <summary>A fragment would make the datagram longer than 65535 bytes.</summary>
    FragmentTooLarge,
    /// <summary>A fragment's data was not fully captured, so its datagram cannot be rebuilt.</summary>
    FragmentTruncated,
    /// <summary>A non-final fragment whose length is not a multiple of 8, or a second, different final fragment.</summary>
    FragmentInconsistent,
    /// <summary>Datagrams still incomplete when the capture ended (<see cref="PacketDecoder.FinishCapture"/>).</summary>
    FragmentIncomplete,
    /// <summary>GRE header cut short or of an unsupported version.</summary>
    BadGreHeader,
    /// <summary>More nested tunnels than <see cref="DecoderOptions.MaxTunnelDepth"/>.</summary>
    TunnelDepthLimit,
}

public static class DecodeAnomalyNames
{
    private static readonly string[] Names =
    [
        "none",
        "truncated_link",
        "unsupported_link_type",
        "truncated_ip",
        "bad_ip_version",
        "bad_ip_header_length",
        "bad_ip_total_length",
        "ip_length_exceeds_frame",
        "truncated_tcp",
        "bad_tcp_header_length",
        "bad_tcp_option",
        "truncated_tcp_options",
        "truncated_udp",
        "bad_udp_length",
        "fragment_overlap",
        "fragment_timeout",
        "fragment_memory_limit",
        "fragment_too_large",
        "fragment_truncated",
        "fragment_inconsistent",
        "fragment_incomplete",
        "bad_gre_header",
        "tunnel_depth_limit",
    ];

    public static int Count => Names.Length;

    /// <summary>The stable snake_case name of <paramref name="anomaly"/>.</summary>
    public static string Name(this DecodeAnomaly anomaly) => Names[(int)anomaly];

    public static IEnumerable<DecodeAnomaly> All => Enumerable.Range(0, Names.Length).Select(i => (DecodeAnomaly)i);
}
