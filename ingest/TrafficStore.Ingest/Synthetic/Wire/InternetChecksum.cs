using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace TrafficStore.Ingest.Synthetic.Wire;

/// <summary>
/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
/// words. RFC 1071 section 2 (B) and (C): the sum is independent of byte order and carries may be
/// deferred, so data is summed as native 32-bit halves of 64-bit words into a 64-bit accumulator,
/// folded once at the end and swapped to network order.
/// </summary>
internal struct InternetChecksum
{
    private ulong _sum;

    /// <summary>Adds bytes; only the last span added may have an odd length.</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        ulong sum = _sum;
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        // Each 64-bit word adds as its two 32-bit halves; 2^32 such additions cannot overflow.
        foreach (ulong w in words) sum += (uint)w + (w >> 32);
        int done = words.Length * 8;
        while (data.Length - done >= 2)
        {
            sum += MemoryMarshal.Read<ushort>(data[done..]);
            done += 2;
        }
        if (done < data.Length)
        {
            // A final odd byte is the high byte of a 16-bit word padded with zero (network order).
            sum += BitConverter.IsLittleEndian ? data[done] : (ulong)data[done] << 8;
        }
        _sum = sum;
    }

    /// <summary>Adds a 16-bit value given in host order (e.g. a length or protocol number).</summary>
    public void Add(ushort value) => _sum += BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value;

    /// <summary>The checksum in host order, ready for a big-endian write.</summary>
    public readonly ushort Finish()
    {
        ulong sum = _sum;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        ushort native = (ushort)~sum;
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(native) : native;
    }
}
