using System.Buffers.Binary;
using System.Numerics;

namespace TrafficStore.Engine.Columns;

/// <summary>
/// A fast non-cryptographic hash of short byte strings (pod names, namespaces, IPs), for the
/// in-memory distinct-value sets built while sealing. Not persisted anywhere, so it may change.
/// </summary>
internal static class ByteHash
{
    private const ulong Multiplier = 0x9E3779B97F4A7C15;

    public static int Of(ReadOnlySpan<byte> bytes)
    {
        ulong h = (ulong)bytes.Length * Multiplier;
        while (bytes.Length >= 8)
        {
            h = BitOperations.RotateLeft((h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * Multiplier, 29);
            bytes = bytes[8..];
        }
        ulong tail = 0;
        for (int i = 0; i < bytes.Length; i++) tail |= (ulong)bytes[i] << (8 * i);
        h = (h ^ tail) * Multiplier;
        return (int)(h ^ (h >> 32));
    }
}
