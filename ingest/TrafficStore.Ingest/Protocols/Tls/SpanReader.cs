using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>A bounds-checked big-endian reader over a span; every read reports success.</summary>
internal ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public SpanReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public int Remaining => _data.Length - _pos;

    public bool U8(out int value)
    {
        value = 0;
        if (Remaining < 1) return false;
        value = _data[_pos++];
        return true;
    }

    public bool U16(out int value)
    {
        value = 0;
        if (Remaining < 2) return false;
        value = BinaryPrimitives.ReadUInt16BigEndian(_data[_pos..]);
        _pos += 2;
        return true;
    }

    public bool U24(out int value)
    {
        value = 0;
        if (Remaining < 3) return false;
        value = (_data[_pos] << 16) | (_data[_pos + 1] << 8) | _data[_pos + 2];
        _pos += 3;
        return true;
    }

    public bool Skip(int count)
    {
        if (count < 0 || Remaining < count) return false;
        _pos += count;
        return true;
    }

    public bool Slice(int count, out ReadOnlySpan<byte> slice)
    {
        slice = default;
        if (count < 0 || Remaining < count) return false;
        slice = _data.Slice(_pos, count);
        _pos += count;
        return true;
    }

    /// <summary>A vector of uint16 with a 1- or 2-byte length prefix.</summary>
    public bool U16List(List<int> into, int prefixBytes)
    {
        int len;
        if (prefixBytes == 1 ? !U8(out len) : !U16(out len)) return false;
        if (!Slice(len, out var items) || len % 2 != 0) return false;
        for (int i = 0; i < items.Length; i += 2) into.Add(BinaryPrimitives.ReadUInt16BigEndian(items[i..]));
        return true;
    }
}
