namespace TrafficStore.Ingest.Decode;

/// <summary>What <see cref="PacketDecoder.Decode"/> made of a frame.</summary>
public enum DecodeStatus : byte
{
    /// <summary>A TCP or UDP packet with its headers filled; the payload span holds its captured L4 payload.</summary>
    Decoded,
    /// <summary>IP, but neither TCP nor UDP (ICMP, ESP, ...): addresses and protocol are filled.</summary>
    OtherIp,
    /// <summary>Not IP at all (ARP, LLC/CDP, LLDP, ...).</summary>
    NotIp,
    /// <summary>An IP fragment stored for reassembly; the packet counts when its datagram completes.</summary>
    FragmentHeld,
    /// <summary>A header is cut short or inconsistent; <see cref="PacketDecoder.LastAnomaly"/> says which. As much as possible is filled.</summary>
    Malformed,
    /// <summary>The frame's link type is not one the decoder knows.</summary>
    UnsupportedLinkType,
}
