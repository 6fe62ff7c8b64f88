using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Grpc.Core;

namespace TrafficStore.Server.Flight;

/// <summary>
/// One outgoing Flight <c>FlightData</c> message of DoGet: the schema or a record batch, serialized
/// only when gRPC writes it, straight into the response (see <see cref="FlightDataFraming"/>).
/// The batch must stay alive until the write that serializes it has returned.
/// </summary>
internal sealed class FlightDataMessage
{
    private readonly FlightDataFraming _framing;
    private readonly Action _writeMessage;

    private FlightDataMessage(FlightDataFraming framing, Action writeMessage)
    {
        _framing = framing;
        _writeMessage = writeMessage;
    }

    /// <summary>The response marshaller; the server never reads a FlightData, so it only serializes.</summary>
    public static Marshaller<FlightDataMessage> Marshaller { get; } = Marshallers.Create<FlightDataMessage>(
        (message, context) => message.Serialize(context),
        _ => throw new NotSupportedException("DoGet's FlightData messages are only written by this server"));

    private void Serialize(SerializationContext context)
    {
        var layout = _framing.Measure(_writeMessage);
        context.SetPayloadLength(layout.MessageBytes);
        _framing.Emit(_writeMessage, layout, context.GetBufferWriter());
        context.Complete();
    }

    /// <summary>Writes the messages of one DoGet response: the schema, then each batch.</summary>
    internal sealed class Response : IDisposable
    {
        private readonly FlightDataFraming _framing = new();
        private readonly Schema _schema;
        private readonly ArrowStreamWriter _batches;

        public Response(Schema schema)
        {
            if (schema.FieldsList.Any(f => HasDictionary(f.DataType)))
                throw new NotSupportedException("dictionary-encoded columns need dictionary messages, which DoGet does not write");
            _schema = schema;
            _batches = new ArrowStreamWriter(_framing, schema, leaveOpen: true);
            // The batch writer writes the schema message before its first batch; it is sent by SchemaMessage.
            _framing.Discard();
            _batches.WriteStart();
        }

        /// <summary>The schema message (a fresh writer's start, which is exactly the schema message).</summary>
        public FlightDataMessage SchemaMessage() =>
            new(_framing, () =>
            {
                using var writer = new ArrowStreamWriter(_framing, _schema, leaveOpen: true);
                writer.WriteStart();
            });

        public FlightDataMessage BatchMessage(RecordBatch batch) => new(_framing, () => _batches.WriteRecordBatch(batch));

        public void Dispose() => _batches.Dispose();

        private static bool HasDictionary(IArrowType type) => type switch
        {
            DictionaryType => true,
            NestedType nested => nested.Fields.Any(f => HasDictionary(f.DataType)),
            _ => false,
        };
    }
}
