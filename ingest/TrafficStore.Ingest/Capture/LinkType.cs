namespace TrafficStore.Ingest.Capture;

/// <summary>
/// LINKTYPE_* values from the tcpdump.org link-layer header registry, as they appear in pcap
/// file headers and pcapng Interface Description Blocks. Only the ones the decoder understands
/// are named; any other value is carried through unchanged and counted as undecodable.
/// </summary>
public enum LinkType : ushort
{
    /// <summary>BSD loopback: 4-byte address family in the capturing host's byte order.</summary>
    Null = 0,
    Ethernet = 1,
    /// <summary>Raw IP (DLT_RAW on some BSDs; the header says IPv4 or IPv6 by its version nibble).</summary>
    RawBsd12 = 12,
    RawBsd14 = 14,
    Raw = 101,
    /// <summary>OpenBSD loopback: 4-byte address family in network byte order.</summary>
    Loop = 108,
    LinuxSll = 113,
    Ipv4 = 228,
    Ipv6 = 229,
    LinuxSll2 = 276,
}
