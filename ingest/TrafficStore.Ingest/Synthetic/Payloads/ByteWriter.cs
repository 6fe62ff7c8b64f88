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
    /// Appends <paramref name="count"/> random-looking bytes (ciphertext, protobuf blobs): a slice
    /// of a fixed noise pool at a random offset, far cheaper than drawing every byte.
    /// </summary>
    public void Random(Random rng, int count)
    {
        Span<byte> target = Grow(count);
        while (!target.IsEmpty)
        {
            int chunk = Math.Min(target.Length, NoisePool.Length / 2);
            NoisePool.AsSpan(rng.Next(NoisePool.Length - chunk), chunk).CopyTo(target);
            target = target[chunk..];
        }
    }

    private static readonly byte[] NoisePool = CreateNoise();

    private static byte[] CreateNoise()
    {
        var noise = new byte[1 << 18];
        new Random(0x5EED).NextBytes(noise);
        return noise;
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
