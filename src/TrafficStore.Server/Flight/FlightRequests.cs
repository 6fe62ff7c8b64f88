using Google.Protobuf;
using Grpc.Core;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The rule for Flight request messages that do not parse: <c>InvalidArgument</c> naming the method
/// and the message. gRPC runs a request's deserializer before the handler, so our handlers never see
/// the failure; it answers any exception from a deserializer with <c>Unknown</c> ("Exception was
/// thrown by handler") but sends an <see cref="RpcException"/>'s status as it is.
/// </summary>
internal static class FlightRequests
{
    public static RpcException NotParsed(string method, string message, InvalidProtocolBufferException e) =>
        new(new Status(StatusCode.InvalidArgument, $"the {method} request is not a Flight {message} message: {e.Message}"));

    /// <summary><paramref name="stock"/> with <see cref="NotParsed"/> for what its deserializer cannot parse.</summary>
    public static Marshaller<T> Checked<T>(string method, Marshaller<T> stock) where T : class
    {
        var deserialize = stock.ContextualDeserializer;
        string message = typeof(T).Name;
        return new Marshaller<T>(stock.ContextualSerializer, context =>
        {
            try { return deserialize(context); }
            catch (InvalidProtocolBufferException e) { throw NotParsed(method, message, e); }
        });
    }
}
