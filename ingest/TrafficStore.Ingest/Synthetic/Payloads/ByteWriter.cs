using System.Buffers.Binary;
using System.Text;

namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>
/// A growable big-endian byte writer for building protocol messages (not on a per-frame path).
/// Length fields are written as placeholders and patched once the content is known.
/// </summary>
internal sealed class ByteWriter
{
    private byte[] _buffer;

    public ByteWriter(int capacity = 256) => _buffer = new byte[capacity];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    public byte[] ToArray() => _buffer.AsSpan(0, Length).ToArray();

    public void Clear() => Length = 0;

    private Span<byte> Grow(int count)
    {
        if (Length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        Span<byte> span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }

    public void U8(int value) => Grow(1)[0] = (byte)value;
    public void U16(int value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), (ushort)value);
    public void U24(int value) { Span<byte> s = Grow(3); s[0] = (byte)(value >> 16); s[1] = (byte)(value >> 8); s[2] = (byte)value; }
    public void U32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);
    public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));
    public void Ascii(string text) => Encoding.ASCII.GetBytes(text, Grow(Encoding.ASCII.GetByteCount(text)));
    public void Utf8(string text) => Encoding.UTF8.GetBytes(text, Grow(Encoding.UTF8.GetByteCount(text)));

    /// <summary>
    /// Appends <paramref name="count"/> random bytes (ciphertext, compressed or encrypted blobs). Every
    /// call draws fresh bytes: copies of a shared noise pool would let a long-window compressor
    /// (zstd -19, --long) find "ciphertext" repeated across the capture, which real traffic never has.
    /// xorshift64* seeded from <paramref name="rng"/>: deterministic and ~8 bytes per step.
    /// </summary>
    public void Random(Random rng, int count)
    {
        Span<byte> target = Grow(count);
        ulong state = (ulong)rng.NextInt64() | 1;
        while (target.Length >= 8)
        {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
            BinaryPrimitives.WriteUInt64LittleEndian(target, state * 0x2545F4914F6CDD1DUL);
            target = target[8..];
        }
        for (int i = 0; i < target.Length; i++)
        {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
            target[i] = (byte)((state * 0x2545F4914F6CDD1DUL) >> 56);
        }
    }

    /// <summary>Reserves a big-endian length field of 1, 2, 3 or 4 bytes; returns its position.</summary>
    public int ReserveLength(int size) { int at = Length; Grow(size).Clear(); return at; }

    /// <summary>Fills a reserved length field with the number of bytes written since it.</summary>
    public void PatchLength(int at, int size)
    {
        int value = Length - at - size;
        for (int i = size - 1; i >= 0; i--) { _buffer[at + i] = (byte)value; value >>= 8; }
    }
}
