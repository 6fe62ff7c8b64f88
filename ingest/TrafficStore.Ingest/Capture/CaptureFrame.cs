namespace TrafficStore.Ingest.Capture;

/// <summary>
/// One captured frame as a source hands it out. <see cref="Data"/> points into the source's own
/// buffer and is valid only until the next call to <see cref="ICaptureSource.TryReadNext"/>.
/// </summary>
public ref struct CaptureFrame
{
    /// <summary>1-based position of the frame in the capture (tshark's frame.number).</summary>
    public long Number;
    /// <summary>Capture time, nanoseconds since the Unix epoch (UTC).</summary>
    public long TimestampNs;
    /// <summary>Length of the frame on the wire (frame.len), which may exceed <see cref="Data"/>.Length.</summary>
    public int OriginalLength;
    public LinkType LinkType;
    /// <summary>Interface index (pcapng IDB order; 0 for pcap and live capture of one interface).</summary>
    public int InterfaceId;
    /// <summary>Byte offset of the frame's record in the file (-1 for live capture).</summary>
    public long FileOffset;
    /// <summary>The captured bytes (frame.cap_len of them), link-layer header included.</summary>
    public ReadOnlySpan<byte> Data;
}
