using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace TrafficStore.Ingest.Synthetic.Wire;

/// <summary>
/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit
/// words. Sums are accumulated in 64 bits so the carry fold happens once at the end.
/// </summary>
internal struct InternetChecksum
{
    private ulong _sum;

    /// <summary>Adds bytes; only the last span added may have an odd length.</summary>
    public void Add(ReadOnlySpan<byte> data)
    {
        // Summing 32-bit big-endian words is the same as summing 16-bit ones after the fold
        // (RFC 1071 section 2 (B): the sum is byte-order independent, deferred carries).
        ReadOnlySpan<uint> words = MemoryMarshal.Cast<byte, uint>(data);
        ulong sum = _sum;
        foreach (uint w in words) sum += BinaryPrimitives.ReverseEndianness(w);
        int done = words.Length * 4;
        if (data.Length - done >= 2) { sum += (uint)(data[done] << 8 | data[done + 1]); done += 2; }
        if (done < data.Length) sum += (uint)(data[done] << 8);
        _sum = sum;
    }

    public void Add(ushort value) => _sum += value;

    public readonly ushort Finish()
    {
        ulong sum = _sum;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
