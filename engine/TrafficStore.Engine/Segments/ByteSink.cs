using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>A growable little-endian byte buffer with LEB128 varints, for chunk payloads and footers.</summary>
internal sealed class ByteSink
{
    private byte[] _buffer;
    public int Length { get; private set; }

    public ByteSink(int capacity = 256) => _buffer = new byte[Math.Max(16, capacity)];

    /// <summary>A sink writing into <paramref name="buffer"/> (e.g. a pooled one) until it needs more room.</summary>
    public ByteSink(byte[] buffer) => _buffer = buffer;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);
    public byte[] ToArray() => WrittenSpan.ToArray();
    /// <summary>The written bytes without a copy; valid until the sink is written to or cleared again.</summary>
    public ArraySegment<byte> WrittenSegment => new(_buffer, 0, Length);
    public void Clear() => Length = 0;

    private Span<byte> Reserve(int count)
    {
        if (Length + count > _buffer.Length)
        {
            long wanted = Math.Max((long)_buffer.Length * 2, (long)Length + count);
            Array.Resize(ref _buffer, checked((int)Math.Min(wanted, Array.MaxLength)));
        }
        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }

    public void WriteByte(byte value) => Reserve(1)[0] = value;
    public void WriteBytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Reserve(bytes.Length));
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);
    public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), value);
    public void WriteLongs(ReadOnlySpan<long> values) => WriteBytes(MemoryMarshal.AsBytes(values)); // little-endian hosts only (x64/arm64)
    public void WriteDoubles(ReadOnlySpan<double> values) => WriteBytes(MemoryMarshal.AsBytes(values));

    public void WriteVarUInt(ulong value)
    {
        while (value >= 0x80)
        {
            WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        WriteByte((byte)value);
    }

    public void WriteVarInt(long value) => WriteVarUInt(ZigZag(value));

    /// <summary>Length-prefixed bytes.</summary>
    public void WriteBlob(ReadOnlySpan<byte> bytes)
    {
        WriteVarUInt((ulong)bytes.Length);
        WriteBytes(bytes);
    }

    public void WriteString(string value) => WriteBlob(System.Text.Encoding.UTF8.GetBytes(value));

    public static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));
    public static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);

    public static int VarUIntSize(ulong value)
    {
        int n = 1;
        while (value >= 0x80) { value >>= 7; n++; }
        return n;
    }
}

/// <summary>Reads what <see cref="ByteSink"/> wrote; throws <see cref="InvalidDataException"/> past the end (callers map it to corruption).</summary>
internal ref struct ByteSource
{
    private readonly ReadOnlySpan<byte> _data;
    public int Position;

    public ByteSource(ReadOnlySpan<byte> data) { _data = data; Position = 0; }

    public readonly int Remaining => _data.Length - Position;

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > _data.Length - Position) throw new InvalidDataException("Read past the end of an encoded block.");
        var span = _data.Slice(Position, count);
        Position += count;
        return span;
    }

    public byte ReadByte() => Take(1)[0];
    public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
    public ReadOnlySpan<byte> ReadBytes(int count) => Take(count);

    public ulong ReadVarUInt()
    {
        ulong result = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            byte b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return result;
        }
        throw new InvalidDataException("Varint longer than 10 bytes.");
    }

    public long ReadVarInt() => ByteSink.UnZigZag(ReadVarUInt());

    public int ReadCount()
    {
        ulong v = ReadVarUInt();
        if (v > int.MaxValue) throw new InvalidDataException("Count out of range.");
        return (int)v;
    }

    public ReadOnlySpan<byte> ReadBlob() => Take(ReadCount());
    public string ReadString() => System.Text.Encoding.UTF8.GetString(ReadBlob());
}
