using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>Frame types (RFC 9113 §6).</summary>
public enum Http2FrameType : byte
{
    Data = 0x0,
    Headers = 0x1,
    Priority = 0x2,
    RstStream = 0x3,
    Settings = 0x4,
    PushPromise = 0x5,
    Ping = 0x6,
    GoAway = 0x7,
    WindowUpdate = 0x8,
    Continuation = 0x9,
}

/// <summary>Frame flags (RFC 9113 §6); the meaning depends on the type.</summary>
[Flags]
public enum Http2Flags : byte
{
    None = 0,
    /// <summary>DATA, HEADERS: END_STREAM. SETTINGS, PING: ACK.</summary>
    EndStreamOrAck = 0x1,
    /// <summary>HEADERS, PUSH_PROMISE, CONTINUATION.</summary>
    EndHeaders = 0x4,
    /// <summary>DATA, HEADERS, PUSH_PROMISE.</summary>
    Padded = 0x8,
    /// <summary>HEADERS.</summary>
    Priority = 0x20,
}

/// <summary>
/// The 9-octet frame header (RFC 9113 §4.1):
/// <code>
/// HTTP Frame {
///   Length (24),
///   Type (8),
///   Flags (8),
///   Reserved (1),
///   Stream Identifier (31),
///   Frame Payload (..),
/// }
/// </code>
/// </summary>
public readonly record struct Http2FrameHeader(int Length, Http2FrameType Type, Http2Flags Flags, uint StreamId)
{
    public const int Size = 9;

    /// <summary>RFC 9113 §4.2: SETTINGS_MAX_FRAME_SIZE starts at 2^14.</summary>
    public const int DefaultMaxFrameSize = 16384;

    public bool Has(Http2Flags flag) => (Flags & flag) != 0;

    public static Http2FrameHeader Read(ReadOnlySpan<byte> header)
    {
        int length = header[0] << 16 | header[1] << 8 | header[2];
        uint streamId = BinaryPrimitives.ReadUInt32BigEndian(header[5..]) & 0x7FFF_FFFF;
        return new Http2FrameHeader(length, (Http2FrameType)header[3], (Http2Flags)header[4], streamId);
    }

    /// <summary>
    /// Whether these 9 octets look like a frame header a real peer would send: a known type, only
    /// that type's flags, the reserved bit clear, stream 0 exactly for connection frames, the
    /// fixed payload sizes of §6, and a length within the default maximum frame size. Used to
    /// recognise HTTP/2 without a preface and to find a frame boundary mid-stream.
    /// </summary>
    public static bool IsPlausible(ReadOnlySpan<byte> header)
    {
        if ((header[5] & 0x80) != 0) return false;
        var h = Read(header);
        if (h.Length > DefaultMaxFrameSize) return false;
        byte flags = (byte)h.Flags;
        bool connection = h.StreamId == 0;
        return h.Type switch
        {
            Http2FrameType.Data => !connection && (flags & ~0x09) == 0,
            Http2FrameType.Headers => !connection && (flags & ~0x2D) == 0,
            Http2FrameType.Priority => !connection && flags == 0 && h.Length == 5,
            Http2FrameType.RstStream => !connection && flags == 0 && h.Length == 4,
            Http2FrameType.Settings => connection && (flags & ~0x01) == 0 && h.Length % 6 == 0 && (flags == 0 || h.Length == 0),
            Http2FrameType.PushPromise => !connection && (flags & ~0x0C) == 0 && h.Length >= 4,
            Http2FrameType.Ping => connection && (flags & ~0x01) == 0 && h.Length == 8,
            Http2FrameType.GoAway => connection && flags == 0 && h.Length >= 8,
            Http2FrameType.WindowUpdate => flags == 0 && h.Length == 4,
            Http2FrameType.Continuation => !connection && (flags & ~0x04) == 0,
            _ => false,
        };
    }

    /// <summary>
    /// Length of a chain of plausible frame headers starting at <paramref name="data"/>[0]: the
    /// number of plausible headers found (the last one's payload may run past the data) before
    /// the data ends or a header is implausible; -1 when the first header is implausible. <paramref name="endsOnBoundary"/> tells whether the
    /// last frame ends exactly at the end of the data.
    /// </summary>
    public static int CountPlausibleFrames(ReadOnlySpan<byte> data, out bool endsOnBoundary)
    {
        int offset = 0, frames = 0;
        endsOnBoundary = false;
        while (data.Length - offset >= Size)
        {
            var header = data.Slice(offset, Size);
            if (!IsPlausible(header)) return frames == 0 ? -1 : frames;
            frames++;
            offset += Size + Read(header).Length;
            endsOnBoundary = offset == data.Length;
        }
        return frames;
    }
}
