using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The rule for Flight request messages that do not parse: <c>InvalidArgument</c> naming the method and the
/// message, logged and counted as every other failed call (<see cref="TrafficFlightServer.Refuse"/>).
/// gRPC runs a request's deserializer before the handler and without the call's context; it answers any
/// exception from a deserializer with <c>Unknown</c> ("Exception was thrown by handler") but sends an
/// <see cref="RpcException"/>'s status as it is. So for a method with one request message (unary, server
/// streaming) the deserializer does not throw: it returns a placeholder request that <see cref="TryGetRefusal"/>
/// recognises, and the handler refuses the call with its context (method, peer) at hand, once. For a
/// request stream (DoPut) the deserializer runs inside the handler's read, so it throws (<see cref="Checked{T}"/>)
/// and the handler's error mapping logs and counts it.
/// </summary>
internal static class FlightRequests
{
    /// <summary>Why a request did not parse: what the method expected, how many bytes came (never the bytes themselves).</summary>
    public sealed record Refusal(string Method, string Message, long Bytes, string Reason)
    {
        public string Detail => $"the {Method} request is not a Flight {Message} message: {Reason} ({Bytes} bytes)";
    }

    // Placeholder request → its refusal; keyed by reference, gone with the request.
    private static readonly ConditionalWeakTable<object, Refusal> NotParsedRequests = new();

    public static RpcException NotParsed(string method, string message, InvalidProtocolBufferException e) =>
        new(new Status(StatusCode.InvalidArgument, $"the {method} request is not a Flight {message} message: {e.Message}"));

    /// <summary><paramref name="stock"/> that throws <see cref="NotParsed"/> for what its deserializer cannot parse (request streams).</summary>
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

    /// <summary>
    /// <paramref name="stock"/> that answers what it cannot parse with <paramref name="placeholder"/>() (a new
    /// instance each time), remembered as not parsed: the handler checks <see cref="TryGetRefusal"/> first.
    /// </summary>
    public static Marshaller<T> Deferred<T>(string method, string message, Marshaller<T> stock, Func<T> placeholder) where T : class
    {
        var deserialize = stock.ContextualDeserializer;
        return new Marshaller<T>(stock.ContextualSerializer, context =>
        {
            try { return deserialize(context); }
            catch (InvalidProtocolBufferException e) { return Placeholder(placeholder(), new Refusal(method, message, context.PayloadLength, e.Message)); }
        });
    }

    /// <summary>Remembers <paramref name="request"/> (a fresh object) as the stand-in for a request that did not parse.</summary>
    public static T Placeholder<T>(T request, Refusal refusal) where T : class
    {
        NotParsedRequests.AddOrUpdate(request, refusal);
        return request;
    }

    /// <summary>Whether <paramref name="request"/> stands for a request that did not parse, and why.</summary>
    public static bool TryGetRefusal(object request, out Refusal refusal) => NotParsedRequests.TryGetValue(request, out refusal!);
}
