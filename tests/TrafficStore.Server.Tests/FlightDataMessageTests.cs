using System.Buffers;
using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Google.Protobuf;
using Grpc.Core;
using TrafficStore.Server.Flight;

namespace TrafficStore.Server.Tests;

/// <summary>
/// DoGet's FlightData messages, decoded here with protobuf's own reader and Arrow's own IPC
/// stream reader (not with our framing code), must give back the batch that went in: whole,
/// sliced (non-zero offsets, rebased value offsets), with nulls and empty.
/// </summary>
public class FlightDataMessageTests
{
    // Body bytes per row × row number: 3 keeps the batch under FlightDataMessage.CopyBelowBytes
    // (one writer pass and a copy), 100 puts it over (measured, then written without a copy).
    [Theory]
    [InlineData(0, 50, 3)]
    [InlineData(0, 0, 3)]
    [InlineData(7, 30, 3)]
    [InlineData(13, 37, 3)]
    [InlineData(0, 50, 100)]
    [InlineData(0, 0, 100)]
    [InlineData(7, 30, 100)]
    [InlineData(13, 37, 100)]
    public void BatchesRoundTripThroughFlightDataFields(int offset, int length, int bodyScale)
    {
        var batch = Sample(50, bodyScale);
        var input = Slice(batch, offset, length);
        using var response = new FlightDataMessage.Response(batch.Schema);

        var schemaFields = Fields(Serialize(response.SchemaMessage(), out _));
        var batchFields = Fields(Serialize(response.BatchMessage(input), out int declaredLength));

        Assert.False(schemaFields.ContainsKey(1000)); // the schema message has no body
        Assert.Equal(declaredLength, batchFields.Sum(f => f.Value.TotalBytes));

        using var reader = new ArrowStreamReader(IpcStream(schemaFields[2].Bytes, [], batchFields[2].Bytes, batchFields.GetValueOrDefault(1000)?.Bytes ?? []));
        var read = reader.ReadNextRecordBatch();
        Assert.NotNull(read);
        Assert.Equal(length, read.Length);
        for (int c = 0; c < batch.ColumnCount; c++)
            for (int i = 0; i < length; i++)
                Assert.Equal(Value(input.Column(c), i), Value(read.Column(c), i));
        Assert.Null(reader.ReadNextRecordBatch());
    }

    // A writer that honours size hints (one span of the whole piece) and one that never gives more than 4 KiB
    // (like a pipe of pool blocks that ignores the hint): the same bytes either way, at every piece length around the threshold.
    [Theory]
    [InlineData(0)]
    [InlineData(FlightDataFraming.LargePieceBytes - 1)]
    [InlineData(FlightDataFraming.LargePieceBytes)]
    [InlineData(FlightDataFraming.LargePieceBytes + 4097)]
    [InlineData(1 << 20)]
    public void LargePiecesAreWrittenWholeOrPiecewiseWithTheSameBytes(int length)
    {
        var bytes = Enumerable.Range(0, length).Select(i => (byte)(i * 31 + (i >> 8))).ToArray();
        var whole = new ArrayBufferWriter<byte>();
        var capped = new CappedWriter(4096);
        whole.Write<byte>([0xAA]); // not at a span boundary
        capped.Write<byte>([0xAA]);
        FlightDataFraming.WriteLarge(whole, bytes);
        FlightDataFraming.WriteLarge(capped, bytes);
        Assert.Equal([0xAA, .. bytes], whole.WrittenSpan.ToArray());
        Assert.Equal([0xAA, .. bytes], capped.Written.ToArray());
    }

    [Fact]
    public void MegabyteBodiesRoundTrip() => BatchesRoundTripThroughFlightDataFields(3, 40, 1000);

    private sealed class CappedWriter(int cap) : IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[cap];
        private int _used;
        public MemoryStream Written { get; } = new();
        public void Advance(int count)
        {
            Written.Write(_buffer, 0, count);
            _used = 0;
        }
        public Memory<byte> GetMemory(int sizeHint = 0) => _buffer.AsMemory(_used, cap);
        public Span<byte> GetSpan(int sizeHint = 0) => _buffer.AsSpan(_used, cap);
    }

    [Fact]
    public void DictionaryColumnsAreRefusedRatherThanSentWithoutTheirDictionaries()
    {
        var schema = new Schema([new Field("d", new DictionaryType(Int32Type.Default, StringType.Default, false), true)], null);
        Assert.Throws<NotSupportedException>(() => new FlightDataMessage.Response(schema));
    }

    private static RecordBatch Sample(int rows, int bodyScale)
    {
        var ts = new TimestampArray.Builder(new TimestampType(TimeUnit.Nanosecond, "UTC"));
        var ids = new Int64Array.Builder();
        var names = new StringArray.Builder();
        var bodies = new BinaryArray.Builder();
        var flags = new BooleanArray.Builder();
        for (int i = 0; i < rows; i++)
        {
            ts.Append(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + i));
            if (i % 5 == 3) ids.AppendNull(); else ids.Append(i * 1_000_003L);
            if (i % 7 == 2) names.AppendNull(); else names.Append(new string((char)('a' + i % 26), i % 11));
            bodies.Append(Enumerable.Range(0, i * bodyScale).Select(b => (byte)(b ^ i)).ToArray().AsSpan());
            flags.Append(i % 3 == 0);
        }
        var schema = new Schema([
            new Field("ts", new TimestampType(TimeUnit.Nanosecond, "UTC"), false),
            new Field("id", Int64Type.Default, true),
            new Field("name", StringType.Default, true),
            new Field("body", BinaryType.Default, false),
            new Field("flag", BooleanType.Default, false),
        ], null);
        return new RecordBatch(schema, [ts.Build(), ids.Build(), names.Build(), bodies.Build(), flags.Build()], rows);
    }

    private static RecordBatch Slice(RecordBatch batch, int offset, int length) =>
        new(batch.Schema, Enumerable.Range(0, batch.ColumnCount).Select(c => ArrowArrayFactory.Slice(batch.Column(c), offset, length)).ToList(), length);

    private static object? Value(IArrowArray array, int i) => array.IsNull(i) ? null : array switch
    {
        TimestampArray a => a.GetValue(i),
        Int64Array a => a.GetValue(i),
        StringArray a => a.GetString(i),
        BinaryArray a => Convert.ToHexString(a.GetBytes(i)),
        BooleanArray a => a.GetValue(i),
        _ => throw new ArgumentException(array.GetType().Name),
    };

    private static byte[] Serialize(FlightDataMessage message, out int declaredLength)
    {
        var context = new RecordingContext();
        FlightDataMessage.Marshaller.ContextualSerializer(message, context);
        Assert.True(context.Completed);
        declaredLength = context.PayloadLength;
        return context.Writer.WrittenSpan.ToArray();
    }

    private sealed record ProtoField(byte[] Bytes, int TotalBytes);

    /// <summary>The length-delimited fields of a protobuf message, read by Google.Protobuf's CodedInputStream.</summary>
    private static Dictionary<int, ProtoField> Fields(byte[] message)
    {
        var fields = new Dictionary<int, ProtoField>();
        var input = new CodedInputStream(message);
        while (!input.IsAtEnd)
        {
            long start = input.Position;
            uint tag = input.ReadTag();
            Assert.Equal(WireFormat.WireType.LengthDelimited, WireFormat.GetTagWireType(tag));
            var bytes = input.ReadBytes().ToByteArray();
            fields.Add(WireFormat.GetTagFieldNumber(tag), new ProtoField(bytes, (int)(input.Position - start)));
        }
        return fields;
    }

    /// <summary>An Arrow IPC stream (continuation marker, metadata length, metadata, body) of the received messages.</summary>
    private static MemoryStream IpcStream(byte[] schemaHeader, byte[] schemaBody, byte[] batchHeader, byte[] batchBody)
    {
        var stream = new MemoryStream();
        Span<byte> prefix = stackalloc byte[8];
        foreach (var (header, body) in new[] { (schemaHeader, schemaBody), (batchHeader, batchBody) })
        {
            BinaryPrimitives.WriteInt32LittleEndian(prefix, -1);
            BinaryPrimitives.WriteInt32LittleEndian(prefix[4..], header.Length);
            stream.Write(prefix);
            stream.Write(header);
            stream.Write(body);
        }
        stream.Write(new byte[8]); // end of stream: continuation marker, length 0
        stream.Position = 0;
        return stream;
    }

    private sealed class RecordingContext : SerializationContext
    {
        public ArrayBufferWriter<byte> Writer { get; } = new();
        public int PayloadLength { get; private set; } = -1;
        public bool Completed { get; private set; }

        public override void SetPayloadLength(int payloadLength) => PayloadLength = payloadLength;
        public override IBufferWriter<byte> GetBufferWriter() => Writer;
        public override void Complete() => Completed = true;
        public override void Complete(byte[] payload) => throw new InvalidOperationException("expected the buffer writer");
    }
}
