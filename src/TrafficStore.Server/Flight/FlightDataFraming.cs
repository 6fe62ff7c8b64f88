using System.Buffers;
using System.Buffers.Binary;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The write-only stream an <see cref="Apache.Arrow.Ipc.ArrowStreamWriter"/> writes one
/// encapsulated IPC message into, turned into the fields of a Flight <c>FlightData</c> protobuf
/// message on the way: the flatbuffer metadata becomes <c>data_header</c> (field 2) and the body
/// <c>data_body</c> (field 1000), written straight from the Arrow buffers into the destination
/// (the gRPC response pipe) without an intermediate copy.
/// <para>
/// gRPC needs the message length before the first byte, so every message is written twice by the
/// same writer call: first <see cref="Measure"/> (counts, copies nothing), then <see cref="Emit"/>.
/// A writer pass costs tens of microseconds, more than copying a small message, so small messages
/// take one pass and one copy instead (<see cref="Copy"/>, <see cref="WriteFields"/>).
/// </para>
/// <code>
/// IPC encapsulated message (Arrow columnar format, "Encapsulated message format"):
///   0        4        8                        8+M                  8+M+B
///   +--------+--------+------------------------+--------------------+
///   |FFFFFFFF|  M     | flatbuffer Message     | body (buffers, each |
///   |(cont.) |(int32) | (padded to 8 bytes)    |  padded to 8 bytes) |
///   +--------+--------+------------------------+--------------------+
/// FlightData as written (protobuf wire format; Flight.proto):
///   0x12 varint(M) metadata[M]  0xC2 0x3E varint(B) body[B]
///   (field 2 "data_header", LEN)  (field 1000 "data_body", LEN; omitted when B = 0)
/// </code>
/// </summary>
internal sealed class FlightDataFraming : Stream
{
    private const int PrefixBytes = 8;
    private const byte DataHeaderTag = (2 << 3) | 2;
    // Field 1000, wire type 2 (LEN): varint(8002) = C2 3E.
    private static ReadOnlySpan<byte> DataBodyTag => [0xC2, 0x3E];

    private enum Mode : byte { Discard, Measure, Emit, Copy }

    private Mode _mode;
    private IBufferWriter<byte>? _destination;
    private long _position;
    private readonly byte[] _prefix = new byte[PrefixBytes];
    private int _metadataLength = -1;
    private long _measuredMetadata;
    private long _measuredBody;
    private long _emitBodyLength;

    /// <summary>Bytes written since the last mode change; in <see cref="Measure"/> mode, the whole IPC message.</summary>
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    /// <summary>Swallows what is written (the schema message an Arrow writer emits before the first batch).</summary>
    public void Discard() => Reset(Mode.Discard, null);

    /// <summary>Runs <paramref name="writeMessage"/> (which must write exactly one IPC message) and returns the FlightData length.</summary>
    public FlightDataLayout Measure(Action writeMessage) => Layout(Mode.Measure, null, writeMessage);

    /// <summary>Runs <paramref name="writeMessage"/> again and writes the FlightData message it makes to <paramref name="destination"/>.</summary>
    public void Emit(Action writeMessage, FlightDataLayout layout, IBufferWriter<byte> destination)
    {
        Reset(Mode.Emit, destination);
        _emitBodyLength = layout.BodyBytes;
        writeMessage();
        long written = _position;
        Discard();
        if (written != PrefixBytes + layout.MetadataBytes + layout.BodyBytes)
            throw new InvalidOperationException($"the Arrow writer produced {written} bytes for a message measured at {PrefixBytes + layout.MetadataBytes + layout.BodyBytes}");
    }

    /// <summary>
    /// Runs <paramref name="writeMessage"/> once and copies the IPC message as written into
    /// <paramref name="scratch"/>; <see cref="WriteFields"/> then frames it. One pass and one copy:
    /// cheaper than measuring and emitting for the schema and for small batches.
    /// </summary>
    public FlightDataLayout Copy(Action writeMessage, IBufferWriter<byte> scratch) => Layout(Mode.Copy, scratch, writeMessage);

    /// <summary>Runs <paramref name="writeMessage"/> in a counting mode and returns the layout of the one IPC message it wrote.</summary>
    private FlightDataLayout Layout(Mode mode, IBufferWriter<byte>? destination, Action writeMessage)
    {
        Reset(mode, destination);
        writeMessage();
        if (_metadataLength < 0 || _measuredMetadata != _metadataLength)
            throw new InvalidOperationException($"the Arrow writer produced {_position} bytes, not one encapsulated IPC message");
        var layout = new FlightDataLayout(_metadataLength, _measuredBody);
        Discard();
        return layout;
    }

    /// <summary>Writes the FlightData fields of an IPC message that <see cref="Copy"/> captured.</summary>
    public static void WriteFields(ReadOnlySpan<byte> ipcMessage, FlightDataLayout layout, IBufferWriter<byte> destination)
    {
        if (ipcMessage.Length != PrefixBytes + layout.MetadataBytes + layout.BodyBytes)
            throw new ArgumentException("the captured message does not match its layout", nameof(ipcMessage));
        var metadata = ipcMessage.Slice(PrefixBytes, layout.MetadataBytes);
        var span = destination.GetSpan(1 + 5);
        span[0] = DataHeaderTag;
        destination.Advance(1 + WriteVarint(span[1..], (ulong)metadata.Length));
        destination.Write(metadata);
        if (layout.BodyBytes == 0) return;
        span = destination.GetSpan(2 + 10);
        DataBodyTag.CopyTo(span);
        destination.Advance(2 + WriteVarint(span[2..], (ulong)layout.BodyBytes));
        WriteLarge(destination, ipcMessage[(PrefixBytes + layout.MetadataBytes)..]);
    }

    private void Reset(Mode mode, IBufferWriter<byte>? destination)
    {
        _mode = mode;
        _destination = destination;
        _position = 0;
        _metadataLength = -1;
        _measuredMetadata = 0;
        _measuredBody = 0;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_mode == Mode.Discard)
        {
            _position += buffer.Length;
            return;
        }
        if (_mode == Mode.Copy) _destination!.Write(buffer);
        while (!buffer.IsEmpty)
        {
            if (_position < PrefixBytes)
            {
                int n = (int)Math.Min(buffer.Length, PrefixBytes - _position);
                buffer[..n].CopyTo(_prefix.AsSpan((int)_position));
                _position += n;
                buffer = buffer[n..];
                if (_position == PrefixBytes) ReadPrefix();
                continue;
            }
            long metadataEnd = PrefixBytes + _metadataLength;
            if (_position < metadataEnd)
            {
                int n = (int)Math.Min(buffer.Length, metadataEnd - _position);
                Pass(buffer[..n], body: false);
                buffer = buffer[n..];
                continue;
            }
            Pass(buffer, body: true);
            buffer = default;
        }
    }

    private void ReadPrefix()
    {
        // A continuation marker (0xFFFFFFFF) then the metadata length; the pre-1.0 format has no marker.
        int first = BinaryPrimitives.ReadInt32LittleEndian(_prefix);
        int length = first == -1 ? BinaryPrimitives.ReadInt32LittleEndian(_prefix.AsSpan(4)) : -1;
        if (length <= 0) throw new InvalidOperationException("the Arrow writer must write the IPC format with continuation markers");
        _metadataLength = length;
        if (_mode == Mode.Emit)
        {
            // The data_header tag and length go before the metadata; the prefix itself is not sent.
            var span = _destination!.GetSpan(1 + 5);
            span[0] = DataHeaderTag;
            int n = 1 + WriteVarint(span[1..], (ulong)length);
            _destination.Advance(n);
        }
    }

    private void Pass(ReadOnlySpan<byte> bytes, bool body)
    {
        long bodyOffset = _position - PrefixBytes - _metadataLength;
        _position += bytes.Length;
        if (_mode is Mode.Measure or Mode.Copy)
        {
            if (body) _measuredBody += bytes.Length;
            else _measuredMetadata += bytes.Length;
            return;
        }
        if (body && bodyOffset == 0)
        {
            // The body length is not in the stream before the body: it comes from the measuring pass.
            var span = _destination!.GetSpan(2 + 10);
            DataBodyTag.CopyTo(span);
            _destination.Advance(2 + WriteVarint(span[2..], (ulong)_emitBodyLength));
        }
        WriteLarge(_destination!, bytes);
    }

    /// <summary>Pieces at least this long are copied into one span of their size (see <see cref="WriteLarge"/>).</summary>
    internal const int LargePieceBytes = 16 << 10;

    /// <summary>
    /// Copies <paramref name="bytes"/> into <paramref name="destination"/>. Kestrel's response pipe hands out 4 KiB
    /// blocks of its memory pool, so writing a 1 MiB body buffer piecewise costs 256 block rents, spans and returns
    /// (about a tenth of a payload query's process CPU in the profile); asking for one span of the whole piece makes
    /// the pipe take one segment from the shared array pool instead (a size hint above the pool's block size).
    /// </summary>
    internal static void WriteLarge(IBufferWriter<byte> destination, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length >= LargePieceBytes)
        {
            var span = destination.GetSpan(bytes.Length);
            if (span.Length >= bytes.Length)
            {
                bytes.CopyTo(span);
                destination.Advance(bytes.Length);
                return;
            }
        }
        destination.Write(bytes);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void WriteByte(byte value) => Write([value]);
    public override void Flush() { }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _position;
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    internal static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    internal static int VarintLength(ulong value)
    {
        int n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }
}

/// <summary>Sizes of one IPC message as FlightData fields.</summary>
internal readonly record struct FlightDataLayout(int MetadataBytes, long BodyBytes)
{
    /// <summary>The protobuf-encoded FlightData length (the gRPC message length).</summary>
    public int MessageBytes => checked((int)(
        1 + FlightDataFraming.VarintLength((ulong)MetadataBytes) + MetadataBytes
        + (BodyBytes == 0 ? 0 : 2 + FlightDataFraming.VarintLength((ulong)BodyBytes) + BodyBytes)));
}
