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
/// <see cref="FlightRequests.Checked"/>, so a request that is not protobuf gets <c>InvalidArgument</c>
/// instead of <c>Unknown</c>. Both stock types are internal to Apache.Arrow.Flight, hence the reflection;
/// it runs once, at startup, and fails it if a new Arrow version renames them.
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
        bind.Invoke(null, [new Binder(context), implementation]);
    }

    /// <summary>
    /// Adds each stock method, its handler bound to the one stock implementation (never null: BindService is
    /// given one), with a checked request marshaller.
    /// </summary>
    private sealed class Binder(ServiceMethodProviderContext<StockFlightService> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method)) context.AddUnaryMethod(Checked(method), Metadata(), (_, request, call) => handler!(request, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            if (Served(method)) context.AddServerStreamingMethod(Checked(method), Metadata(), (_, request, responses, call) => handler!(request, responses, call));
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

        // As Grpc.AspNetCore gives methods it binds itself: POST only (CORS preflight accepted).
        private static List<object> Metadata() => [new HttpMethodMetadata(["POST"], acceptCorsPreflight: true)];
    }
}
