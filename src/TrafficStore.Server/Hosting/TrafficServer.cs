using System.Security.Cryptography.X509Certificates;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Observability;
using TrafficStore.Server.Security;

namespace TrafficStore.Server.Hosting;

/// <summary>
/// Kestrel serving the Flight service (gRPC over HTTP/2) on one endpoint and <c>/healthz</c> and
/// Prometheus <c>/metrics</c> over HTTP/1.1 on a second (by default the next port).
/// Stopping it finishes the calls in flight; the caller then flushes and closes the store.
/// </summary>
public sealed class TrafficServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TrafficServer(WebApplication app, Uri address, Uri opsAddress, ServerMetrics metrics)
    {
        _app = app;
        Address = address;
        OpsAddress = opsAddress;
        Metrics = metrics;
    }

    /// <summary>The bound address (the real port when 0 was asked for), http:// or https://.</summary>
    public Uri Address { get; }

    /// <summary>Where /healthz and /metrics answer over HTTP/1.1.</summary>
    public Uri OpsAddress { get; }

    public ServerMetrics Metrics { get; }

    /// <summary>The factory of Kestrel's connection memory pools, when <see cref="TrafficServerOptions.MemoryBlockBytes"/> set one.</summary>
    internal LargeBlockMemoryPoolFactory? MemoryPools { get; private init; }

    public static async Task<TrafficServer> StartAsync(ServedStore store, TokenFile tokens, TrafficServerOptions options, CancellationToken ct = default)
    {
        if ((options.TlsCertificateFile is null) != (options.TlsKeyFile is null))
            throw new ArgumentException("TLS needs both a certificate file and a key file");
        X509Certificate2? certificate = options.TlsCertificateFile is { } certFile
            ? X509Certificate2.CreateFromPemFile(certFile, options.TlsKeyFile)
            : null;

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        // The host's Error events are a failed start, which StartAsync throws to its caller (serve says it in one
        // line: a port taken since its check) and faults of BackgroundServices (this host runs none). Logged,
        // a taken port printed Kestrel's whole stack trace. Critical ones (a fault stopping the host) still show.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        if (options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                o.UseUtcTimestamp = true;
            });
        }
        else builder.Logging.AddSimpleConsole(o => o.SingleLine = true);

        ListenOptions? flightListen = null, opsListen = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(options.Listen, l =>
            {
                // Cleartext: HTTP/2 only, since gRPC clients speak it with prior knowledge (a mixed
                // HTTP/1.1+2 cleartext endpoint refuses that). TLS: both, negotiated by ALPN.
                l.Protocols = certificate is null ? HttpProtocols.Http2 : HttpProtocols.Http1AndHttp2;
                if (certificate is not null) l.UseHttps(certificate);
                flightListen = l;
            });
            k.Listen(options.OpsListen ?? OpsEndpointFor(options.Listen), l =>
            {
                l.Protocols = HttpProtocols.Http1;
                opsListen = l;
            });
            // No silent truncation: gRPC's own message limit applies to batches; Kestrel's body limit must not cut them first.
            k.Limits.MaxRequestBodySize = null;
            k.Limits.MaxResponseBufferSize = options.ResponseBufferBytes;
        });

        LargeBlockMemoryPoolFactory? memoryPools = null;
        if (options.MemoryBlockBytes is > 0 and var blockBytes)
        {
            // Registered after Kestrel's own factory, so the socket transport resolves this one (the last registration).
            memoryPools = new LargeBlockMemoryPoolFactory(blockBytes, options.MemoryPoolRetainedBytes);
            builder.Services.AddSingleton<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>(memoryPools);
        }

        var metrics = new ServerMetrics();
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(tokens);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<CallAuthorizer>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<TrafficFlightServer>();
        builder.Services.AddSingleton<FlightDoGetService>();
        builder.Services.AddSingleton<StockFlightService>();
        builder.Services.AddSingleton<IServiceMethodProvider<StockFlightService>, StockFlightMethods>();
        builder.Services
            .AddGrpc(o =>
            {
                o.MaxReceiveMessageSize = options.MaxReceiveMessageBytes;
                o.MaxSendMessageSize = null; // DoGet slices batches below 4 MiB itself
                o.EnableDetailedErrors = false;
            });

        var app = builder.Build();
        // The Flight service: DoGet with its own marshallers, every other method as Apache.Arrow.Flight binds
        // it but with checked request marshallers (Apache.Arrow.Flight.AspNetCore's MapFlightEndpoint, no longer
        // referenced, answered bad requests Unknown).
        app.MapGrpcService<FlightDoGetService>();
        app.MapGrpcService<StockFlightService>();
        app.MapGet("/healthz", (HttpContext http) =>
        {
            var h = store.Engine.Health;
            http.Response.StatusCode = h.Healthy ? 200 : 503;
            return Results.Json(new { healthy = h.Healthy, quarantined = h.Quarantined.Count, write_failure = h.WriteFailure, recovery_notes = h.RecoveryNotes });
        });
        app.MapGet("/metrics", () => Results.Text(metrics.Render(store.Engine.GetStats(), store.Engine.Health), "text/plain; version=0.0.4; charset=utf-8"));

        try { await app.StartAsync(ct); }
        catch
        {
            // Release whatever did start (the other port, the services) before the caller reports the failure.
            await app.DisposeAsync();
            throw;
        }
        var scheme = certificate is null ? "http" : "https";
        var uri = new Uri($"{scheme}://{Loopback(flightListen!.IPEndPoint!)}");
        var ops = new Uri($"http://{Loopback(opsListen!.IPEndPoint!)}");
        app.Logger.LogInformation("Serving Arrow Flight on {Address}, /healthz and /metrics on {Ops} ({Tables} tables)", uri, ops, store.Engine.TableNames.Count);
        return new TrafficServer(app, uri, ops, metrics) { MemoryPools = memoryPools };
    }

    /// <summary>The operations endpoint (HTTP/1.1 for Prometheus and probes): the Flight port + 1, or a free port.</summary>
    public static System.Net.IPEndPoint OpsEndpointFor(System.Net.IPEndPoint flight) =>
        new(flight.Address, flight.Port == 0 ? 0 : flight.Port + 1);

    private static string Loopback(System.Net.IPEndPoint ep)
    {
        var address = ep.Address.Equals(System.Net.IPAddress.Any) ? System.Net.IPAddress.Loopback
            : ep.Address.Equals(System.Net.IPAddress.IPv6Any) ? System.Net.IPAddress.IPv6Loopback : ep.Address;
        return new System.Net.IPEndPoint(address, ep.Port).ToString();
    }

    /// <summary>Completes when the host is asked to stop (Ctrl+C, SIGTERM, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken ct = default) => _app.WaitForShutdownAsync(ct);

    public Task StopAsync(CancellationToken ct = default) => _app.StopAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
