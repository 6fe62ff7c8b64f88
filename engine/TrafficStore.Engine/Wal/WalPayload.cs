using System.Buffers;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Wal;

/// <summary>
/// The payload of an append record: the table, the schema version the rows were validated
/// against, and each column encoded with the segment codec (uncompressed: appends stay cheap).
/// Rows appended once per delivery (<see cref="TrafficStoreEngine.AppendOnceAsync"/>) carry the source's
/// new <see cref="DeliveryMark"/> in the same record (kind 2), so the rows and the mark are durable together.
/// <code>
/// u8 kind (1 = rows, 2 = rows of a delivery) |
///   [kind 2 only: string source | i64 batch | i64 row end] |
///   string table | i32 schema version | varint rows | varint columns |
///   per column: string name | u8 type | u8 encoding | varint null count | blob raw chunk
/// </code>
/// Kind 2 dates from 2026-11-26; an older engine refuses such a WAL (it reports an unknown kind).
/// </summary>
internal static class WalPayload
{
    private const byte RowsKind = 1;
    private const byte DeliveryRowsKind = 2;

    /// <remarks>Returns the sink's own buffer (sized up front to the raw bytes) rather than a trimmed copy.</remarks>
    public static ArraySegment<byte> Encode(string table, RowBlock rows) =>
        Encode(table, rows, new ByteSink((int)Math.Min(rows.RawBytes + 256, int.MaxValue / 2)));

    /// <summary>
    /// As <see cref="Encode(string, RowBlock)"/>, into a buffer rented from <see cref="ArrayPool{T}.Shared"/>
    /// (<paramref name="rented"/>; the caller returns it once the record is written), so steady ingest
    /// does not allocate (and the kernel zero) a fresh batch-sized array per append.
    /// </summary>
    public static ArraySegment<byte> Encode(string table, RowBlock rows, out byte[] rented, (string Source, DeliveryMark Mark)? delivery = null)
    {
        rented = ArrayPool<byte>.Shared.Rent((int)Math.Min(rows.RawBytes + 256 + (delivery is null ? 0 : 3 * Delivery.MaxSourceLength), int.MaxValue / 2));
        return Encode(table, rows, new ByteSink(rented), delivery);
    }

    private static ArraySegment<byte> Encode(string table, RowBlock rows, ByteSink sink, (string Source, DeliveryMark Mark)? delivery = null)
    {
        var chunk = new ByteSink(4096);
        if (delivery is { } d)
        {
            sink.WriteByte(DeliveryRowsKind);
            sink.WriteString(d.Source);
            sink.WriteInt64(d.Mark.Batch);
            sink.WriteInt64(d.Mark.RowEnd);
        }
        else sink.WriteByte(RowsKind);
        sink.WriteString(table);
        sink.WriteInt32(rows.Schema.Version);
        sink.WriteVarUInt((ulong)rows.Length);
        sink.WriteVarUInt((ulong)rows.Schema.Count);
        for (int c = 0; c < rows.Schema.Count; c++)
        {
            var column = rows.Schema.Columns[c];
            chunk.Clear();
            var encoding = ColumnCodec.Encode(rows.Columns[c], chunk);
            sink.WriteString(column.Name);
            sink.WriteByte((byte)column.Type);
            sink.WriteByte((byte)encoding);
            sink.WriteVarUInt((ulong)rows.Columns[c].NullCount);
            sink.WriteBlob(chunk.WrittenSpan);
        }
        return sink.WrittenSegment;
    }

    /// <summary>
    /// Decodes a payload; <paramref name="schemaFor"/> resolves (table, version) to a schema, or null for an unknown table.
    /// <paramref name="delivery"/> is the delivery mark the record carries (kind 2), also for an unknown table.
    /// </summary>
    public static (string Table, RowBlock Rows)? Decode(byte[] payload, Func<string, int, TableSchema?> schemaFor, out (string Source, DeliveryMark Mark)? delivery)
    {
        var src = new ByteSource(payload);
        byte kind = src.ReadByte();
        delivery = null;
        if (kind == DeliveryRowsKind)
        {
            string source = src.ReadString();
            delivery = (source, new DeliveryMark(src.ReadInt64(), src.ReadInt64()));
        }
        else if (kind != RowsKind) throw new InvalidDataException("Unknown WAL payload kind.");
        var table = src.ReadString();
        int version = src.ReadInt32();
        int rows = src.ReadCount();
        int count = src.ReadCount();
        var schema = schemaFor(table, version);
        if (schema is null) return null;
        var columns = new ColumnVector[schema.Count];
        for (int c = 0; c < count; c++)
        {
            var name = src.ReadString();
            var type = (ColumnType)src.ReadByte();
            var encoding = (ChunkEncoding)src.ReadByte();
            int nulls = src.ReadCount();
            var raw = src.ReadBlob();
            int i = schema.IndexOf(name);
            if (i < 0 || schema.Columns[i].Type != type) throw new InvalidDataException($"WAL column '{name}' does not match schema version {version} of '{table}'.");
            columns[i] = ColumnCodec.Decode(type, encoding, rows, nulls, raw);
        }
        for (int i = 0; i < columns.Length; i++) columns[i] ??= ColumnVector.Nulls(schema.Columns[i].Type, rows);
        return (table, new RowBlock(schema, columns, rows));
    }
}
