namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>
/// Writes HTTP/2 frames (RFC 9113 section 4.1) and gRPC length-prefixed messages.
/// <code>
/// +-----------------------------------------------+
/// |                 Length (24)                   |
/// +---------------+---------------+---------------+
/// |   Type (8)    |   Flags (8)   |
/// +-+-------------+---------------+-------------------------------+
/// |R|                 Stream Identifier (31)                      |
/// +=+=============================================================+
/// |                   Frame Payload (0...)                      ...
/// +---------------------------------------------------------------+
/// </code>
/// </summary>
internal static class Http2FrameWriter
{
    /// <summary>RFC 9113 section 3.4: the client connection preface.</summary>
    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public const byte Data = 0x0, Headers = 0x1, Settings = 0x4, Ping = 0x6, GoAway = 0x7, WindowUpdate = 0x8;
    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4;

    public static void FrameHeader(ByteWriter w, int length, byte type, byte flags, int streamId)
    {
        w.U24(length);
        w.U8(type);
        w.U8(flags);
        w.U32((uint)streamId & 0x7FFF_FFFF);
    }

    /// <summary>SETTINGS (section 6.5): identifier/value pairs; an ACK has none.</summary>
    public static void SettingsFrame(ByteWriter w, params (int Id, uint Value)[] settings)
    {
        FrameHeader(w, settings.Length * 6, Settings, 0, 0);
        foreach (var (id, value) in settings) { w.U16(id); w.U32(value); }
    }

    public static void SettingsAck(ByteWriter w) => FrameHeader(w, 0, Settings, Ack, 0);

    public static void WindowUpdateFrame(ByteWriter w, int streamId, int increment)
    {
        FrameHeader(w, 4, WindowUpdate, 0, streamId);
        w.U32((uint)increment);
    }

    public static void HeadersFrame(ByteWriter w, int streamId, bool endStream, params (string Name, string Value)[] headers)
    {
        var block = new ByteWriter();
        HpackEncoder.Encode(block, headers);
        FrameHeader(w, block.Length, Headers, (byte)(EndHeaders | (endStream ? EndStream : 0)), streamId);
        w.Bytes(block.WrittenSpan);
    }

    public static void DataFrame(ByteWriter w, int streamId, bool endStream, ReadOnlySpan<byte> data)
    {
        FrameHeader(w, data.Length, Data, endStream ? EndStream : (byte)0, streamId);
        w.Bytes(data);
    }

    /// <summary>
    /// A DATA frame holding one gRPC message: compressed flag (0) and a 4-byte big-endian length
    /// before the protobuf bytes (gRPC over HTTP/2, "Length-Prefixed-Message").
    /// </summary>
    public static void GrpcDataFrame(ByteWriter w, int streamId, bool endStream, ReadOnlySpan<byte> message)
    {
        FrameHeader(w, 5 + message.Length, Data, endStream ? EndStream : (byte)0, streamId);
        w.U8(0);
        w.U32((uint)message.Length);
        w.Bytes(message);
    }

    public static void GoAwayFrame(ByteWriter w, int lastStreamId, int errorCode)
    {
        FrameHeader(w, 8, GoAway, 0, 0);
        w.U32((uint)lastStreamId);
        w.U32((uint)errorCode);
    }
}
