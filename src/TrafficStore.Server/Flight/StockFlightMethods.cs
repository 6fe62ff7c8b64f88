using System.Reflection;
using Apache.Arrow.Flight;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace TrafficStore.Server.Flight;

/// <summary>The gRPC service that <see cref="StockFlightMethods"/> gives the stock Flight methods (they ignore it).</summary>
internal sealed class StockFlightService;

/// <summary>
/// Every Flight method we serve but DoGet (<see cref="FlightDoGetService"/>), as Apache.Arrow.Flight binds it
/// (its generated <c>FlightService.BindService</c> and <c>FlightServerImplementation</c> over
/// <see cref="TrafficFlightServer"/>), with one change: each request marshaller is
/// checked (<see cref="FlightRequests"/>), so a request that is not protobuf gets <c>InvalidArgument</c>
/// instead of <c>Unknown</c>, logged and counted in <c>trafficstore_failed_calls_total</c> like any invalid call:
/// a single request is parsed into a placeholder that the bound handler refuses with the call's context
/// (<see cref="TrafficFlightServer.Refuse"/>) before the stock handler sees it; a request stream (DoPut) throws
/// from the read inside the handler, which maps it. Both stock types are internal to Apache.Arrow.Flight, hence
/// the reflection; it runs once, at startup, and fails it if a new Arrow version renames them.
/// </summary>
internal sealed class StockFlightMethods(TrafficFlightServer server) : IServiceMethodProvider<StockFlightService>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<StockFlightService> context)
    {
        var flight = typeof(FlightDescriptor).Assembly;
        var implementationType = flight.GetType("Apache.Arrow.Flight.Server.Internal.FlightServerImplementation", throwOnError: true)!;
        var serviceType = flight.GetType("Apache.Arrow.Flight.Protocol.FlightService", throwOnError: true)!;
        var bind = serviceType.GetMethod("BindService", BindingFlags.Public | BindingFlags.Static, [typeof(ServiceBinderBase), implementationType.BaseType!])
            ?? throw new InvalidOperationException("Apache.Arrow.Flight's FlightService has no BindService(ServiceBinderBase, FlightServiceBase)");
        var implementation = Activator.CreateInstance(implementationType, server);
        bind.Invoke(null, [new Binder(context, server), implementation]);
    }

    /// <summary>
    /// Adds each stock method, its handler bound to the one stock implementation (never null: BindService is
    /// given one), with a checked request marshaller.
    /// </summary>
    private sealed class Binder(ServiceMethodProviderContext<StockFlightService> context, TrafficFlightServer server) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method))
                context.AddUnaryMethod(Deferred(method), Metadata(), (_, request, call) =>
                    FlightRequests.TryGetRefusal(request, out var refused) ? Task.FromException<TResponse>(server.Refuse(call, refused)) : handler!(request, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method))
                context.AddServerStreamingMethod(Deferred(method), Metadata(), (_, request, responses, call) =>
                    FlightRequests.TryGetRefusal(request, out var refused) ? Task.FromException(server.Refuse(call, refused)) : handler!(request, responses, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method)) context.AddClientStreamingMethod(Checked(method), Metadata(), (_, requests, call) => handler!(requests, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method)) context.AddDuplexStreamingMethod(Checked(method), Metadata(), (_, requests, responses, call) => handler!(requests, responses, call));
        }

        // DoGet is FlightDoGetService's. The stock Handshake and DoExchange throw NotImplementedException (Unknown);
        // left unbound, gRPC answers them Unimplemented.
        private static bool Served(IMethod method) => method.Name is not ("DoGet" or "Handshake" or "DoExchange");

        private static Method<TRequest, TResponse> Checked<TRequest, TResponse>(Method<TRequest, TResponse> method) where TRequest : class where TResponse : class =>
            new(method.Type, method.ServiceName, method.Name, FlightRequests.Checked(method.Name, method.RequestMarshaller), method.ResponseMarshaller);

        // The stock requests are protobuf messages: each has a public parameterless constructor (a fresh placeholder).
        private static Method<TRequest, TResponse> Deferred<TRequest, TResponse>(Method<TRequest, TResponse> method) where TRequest : class where TResponse : class =>
            new(method.Type, method.ServiceName, method.Name,
                FlightRequests.Deferred(method.Name, typeof(TRequest).Name, method.RequestMarshaller, Activator.CreateInstance<TRequest>), method.ResponseMarshaller);

        // As Grpc.AspNetCore gives methods it binds itself: POST only (CORS preflight accepted).
        private static List<object> Metadata() => [new HttpMethodMetadata(["POST"], acceptCorsPreflight: true)];
    }
}
