using System.Buffers;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Grpc.Core;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Server.Flight;

/// <summary>
/// One outgoing Flight <c>FlightData</c> message of DoGet: the schema or a record batch, serialized
/// only when gRPC writes it, straight into the response (see <see cref="FlightDataFraming"/>).
/// The batch must stay alive until the write that serializes it has returned.
/// </summary>
internal abstract class FlightDataMessage
{
    /// <summary>Batches with at most this many bytes of Arrow buffers are copied once instead of written twice.</summary>
    public const int CopyBelowBytes = 64 << 10;

    /// <summary>The response marshaller; the server never reads a FlightData, so it only serializes.</summary>
    public static Marshaller<FlightDataMessage> Marshaller { get; } = Marshallers.Create<FlightDataMessage>(
        (message, context) => message.Serialize(context),
        _ => throw new NotSupportedException("DoGet's FlightData messages are only written by this server"));

    private protected abstract void Serialize(SerializationContext context);

    /// <summary>An IPC message already captured (the schema): framed from its bytes.</summary>
    private sealed class Captured(byte[] ipcMessage, FlightDataLayout layout) : FlightDataMessage
    {
        private protected override void Serialize(SerializationContext context)
        {
            context.SetPayloadLength(layout.MessageBytes);
            FlightDataFraming.WriteFields(ipcMessage, layout, context.GetBufferWriter());
            context.Complete();
        }
    }

    /// <summary>A record batch, written by the response's Arrow writer when gRPC serializes it.</summary>
    private sealed class Batch(Response response, RecordBatch batch, bool small) : FlightDataMessage
    {
        private protected override void Serialize(SerializationContext context)
        {
            var framing = response.Framing;
            void Write() => response.Writer.WriteRecordBatch(batch);
            if (small)
            {
                var scratch = response.Scratch;
                scratch.ResetWrittenCount();
                var copied = framing.Copy(Write, scratch);
                context.SetPayloadLength(copied.MessageBytes);
                FlightDataFraming.WriteFields(scratch.WrittenSpan, copied, context.GetBufferWriter());
            }
            else
            {
                var layout = framing.Measure(Write);
                context.SetPayloadLength(layout.MessageBytes);
                framing.Emit(Write, layout, context.GetBufferWriter());
            }
            context.Complete();
        }
    }

    /// <summary>Writes the messages of one DoGet response: the schema, then each batch.</summary>
    internal sealed class Response : IDisposable
    {
        private readonly FlightDataMessage _schemaMessage;

        public Response(Schema schema)
        {
            if (schema.FieldsList.Any(f => HasDictionary(f.DataType)))
                throw new NotSupportedException("dictionary-encoded columns need dictionary messages, which DoGet does not write");
            Writer = new ArrowStreamWriter(Framing, schema, leaveOpen: true);
            // The writer's start is the schema message: captured once, sent by SchemaMessage.
            var layout = Framing.Copy(Writer.WriteStart, Scratch);
            _schemaMessage = new Captured(Scratch.WrittenSpan.ToArray(), layout);
        }

        internal FlightDataFraming Framing { get; } = new();
        internal ArrowStreamWriter Writer { get; }
        internal ArrayBufferWriter<byte> Scratch { get; } = new();

        public FlightDataMessage SchemaMessage() => _schemaMessage;

        public FlightDataMessage BatchMessage(RecordBatch batch) => new Batch(this, batch, ArrowBatchSize.Bytes(batch) <= CopyBelowBytes);

        public void Dispose() => Writer.Dispose();

        private static bool HasDictionary(IArrowType type) => type switch
        {
            DictionaryType => true,
            NestedType nested => nested.Fields.Any(f => HasDictionary(f.DataType)),
            _ => false,
        };
    }
}
