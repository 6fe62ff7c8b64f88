using System.Buffers.Binary;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Wal;

/// <summary>
/// The highest WAL sequence number whose rows are all in sealed segments. Written atomically
/// (temp file, fsync, rename) as the commit point of a flush: segments whose footer carries a
/// larger flush sequence belong to an unfinished flush and are removed on open.
/// Layout: [i64 seq][u32 crc32c of the 8 seq bytes].
/// </summary>
internal static class WalCheckpoint
{
    public static long Read(string path)
    {
        if (!File.Exists(path)) return 0;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != 12 || Crc32C.Compute(bytes.AsSpan(0, 8)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)))
            throw new InvalidDataException($"WAL checkpoint '{path}' is damaged; refusing to guess which WAL records are sealed.");
        return BinaryPrimitives.ReadInt64LittleEndian(bytes);
    }

    public static void Write(string path, long seq)
    {
        var bytes = new byte[12];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, seq);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), Crc32C.Compute(bytes.AsSpan(0, 8)));
        DurableFile.Replace(path, bytes);
    }
}
