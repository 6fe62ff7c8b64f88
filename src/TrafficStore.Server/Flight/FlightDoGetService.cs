using Apache.Arrow;
using Google.Protobuf;
using Grpc.Core;

namespace TrafficStore.Server.Flight;

/// <summary>
/// Flight's <c>DoGet</c> (<c>/arrow.flight.protocol.FlightService/DoGet</c>) with a response
/// marshaller that writes each record batch's IPC body from the Arrow buffers straight into the
/// HTTP/2 response (<see cref="FlightDataMessage"/>), where the stock service copies it into a
/// <c>MemoryStream</c>, then into a protobuf <c>ByteString</c>, then into the response. On the
/// wire it is the same protocol: stock Flight clients read it unchanged. <see cref="StockFlightMethods"/>
/// binds every other method;
/// authorization, queries and redaction are <see cref="TrafficFlightServer.StreamTicketAsync"/>'s.
/// </summary>
[BindServiceMethod(typeof(FlightDoGetService), nameof(BindService))]
internal class FlightDoGetService
{
    internal static readonly Method<ByteString, FlightDataMessage> DoGetMethod = new(
        MethodType.ServerStreaming, "arrow.flight.protocol.FlightService", "DoGet", TicketMarshaller(), FlightDataMessage.Marshaller);

    private readonly TrafficFlightServer _server;

    public FlightDoGetService(TrafficFlightServer server) => _server = server;

    public static void BindService(ServiceBinderBase binder, FlightDoGetService? service) =>
        binder.AddMethod(DoGetMethod, service is null ? null : (ServerStreamingServerMethod<ByteString, FlightDataMessage>)service.DoGet);

    // Virtual and public: Grpc.AspNetCore binds the method declared (virtually) on the class named by [BindServiceMethod].
    public virtual Task DoGet(ByteString ticket, IServerStreamWriter<FlightDataMessage> responseStream, ServerCallContext context) =>
        FlightRequests.TryGetRefusal(ticket, out var refused) ? Task.FromException(_server.Refuse(context, refused))
        : _server.StreamTicketAsync(ticket, new Sink(responseStream, context), context);

    /// <summary>
    /// The request, Flight.proto's <c>message Ticket { bytes ticket = 1; }</c>: the ticket bytes;
    /// unknown fields are skipped as protobuf requires.
    /// </summary>
    private static Marshaller<ByteString> TicketMarshaller() => new(
        (ticket, context) => context.Complete(new Google.Protobuf.WellKnownTypes.BytesValue { Value = ticket }.ToByteArray()),
        // BytesValue has the same shape as Ticket (bytes, field 1).
        context => ParseTicket(context.PayloadAsReadOnlySequence()));

    private static ByteString ParseTicket(System.Buffers.ReadOnlySequence<byte> payload)
    {
        try { return Google.Protobuf.WellKnownTypes.BytesValue.Parser.ParseFrom(payload).Value; }
        catch (InvalidProtocolBufferException e)
        {
            // Refused by DoGet with the call's context (logged, counted): a fresh placeholder, see FlightRequests.
            return FlightRequests.Placeholder(UnsafeByteOperations.UnsafeWrap(new byte[1]), new FlightRequests.Refusal("DoGet", "Ticket", payload.Length, e.Message));
        }
    }

    private sealed class Sink(IServerStreamWriter<FlightDataMessage> stream, ServerCallContext context) : IRecordBatchSink
    {
        // gRPC writes a message without flushing the response when its write options carry BufferHint.
        private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

        private FlightDataMessage.Response? _response;

        public Task StartAsync(Schema schema)
        {
            _response = new FlightDataMessage.Response(schema);
            return Write(_response.SchemaMessage(), flush: false);
        }

        public Task WriteAsync(RecordBatch batch, bool flush) => Write(_response!.BatchMessage(batch), flush);

        private Task Write(FlightDataMessage message, bool flush)
        {
            stream.WriteOptions = flush ? null : Buffered;
            return stream.WriteAsync(message);
        }

        public async Task FlushAsync() => await context.GetHttpContext().Response.BodyWriter.FlushAsync(context.CancellationToken);

        public void Dispose() => _response?.Dispose();
    }
}

/// <summary>Where DoGet writes its schema and then its batches.</summary>
internal interface IRecordBatchSink : IDisposable
{
    /// <summary>Writes the schema message; it may stay buffered until the next flush.</summary>
    Task StartAsync(Schema schema);

    /// <summary>
    /// Completes once the batch is serialized; the caller may release it then. Without <paramref name="flush"/>
    /// the message may stay buffered until a later flush or the end of the call.
    /// </summary>
    Task WriteAsync(RecordBatch batch, bool flush);

    /// <summary>Sends what is buffered.</summary>
    Task FlushAsync();
}
