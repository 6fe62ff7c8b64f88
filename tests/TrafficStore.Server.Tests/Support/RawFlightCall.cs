using Grpc.Core;

namespace TrafficStore.Server.Tests.Support;

/// <summary>
/// Calls a Flight method with raw request bytes (no protobuf on the client side), for tests of what the server does with
/// requests that are not the message the method takes. Throws the call's <see cref="RpcException"/> if it fails.
/// </summary>
internal static class RawFlightCall
{
    public static Method<byte[], byte[]> Method(string name, MethodType type) =>
        new(type, "arrow.flight.protocol.FlightService", name, Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    public static async Task InvokeAsync(CallInvoker invoker, string name, MethodType type, CallOptions options, byte[] request)
    {
        var method = Method(name, type);
        switch (type)
        {
            case MethodType.Unary:
                await invoker.AsyncUnaryCall(method, null, options, request);
                return;
            case MethodType.ServerStreaming:
                using (var call = invoker.AsyncServerStreamingCall(method, null, options, request))
                    while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
                return;
            default:
                using (var call = invoker.AsyncDuplexStreamingCall(method, null, options))
                {
                    try
                    {
                        await call.RequestStream.WriteAsync(request);
                        await call.RequestStream.CompleteAsync();
                    }
                    catch (RpcException) { } // the server ended the call: its status comes with the response
                    while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
                }
                return;
        }
    }
}
