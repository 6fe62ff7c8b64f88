using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace TrafficStore.Agent.Tests.Support;

/// <summary>
/// Local servers for the live-capture test: Kestrel on 127.0.0.1 with an HTTP/1.1 endpoint and an
/// HTTP/2 cleartext (h2c, prior knowledge) endpoint serving a gRPC-framed unary method, and a tiny
/// UDP DNS responder.
/// </summary>
public sealed class LocalServices : IAsyncDisposable
{
    public const string GrpcPath = "/agenttest.Echo/Say";
    public const string DnsName = "agent-test.example";
    public static readonly byte[] DnsAnswer = [10, 1, 2, 3];
    /// <summary>
    /// DNS over UDP is recognised by port 53 (as tshark does: the wire format alone cannot tell it
    /// from NBNS and others), so the responder listens there, on a loopback address of its own.
    /// </summary>
    public static readonly IPAddress DnsAddress = IPAddress.Parse("127.0.0.77");

    private readonly WebApplication _app;
    private readonly UdpClient _dns;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _dnsLoop;

    private LocalServices(WebApplication app, int http1Port, int h2cPort, UdpClient dns)
    {
        _app = app;
        Http1Port = http1Port;
        H2cPort = h2cPort;
        _dns = dns;
        DnsPort = ((IPEndPoint)dns.Client.LocalEndPoint!).Port;
        DnsEndPoint = (IPEndPoint)dns.Client.LocalEndPoint!;
        _dnsLoop = Task.Run(AnswerDnsAsync);
    }

    public int Http1Port { get; }
    public int H2cPort { get; }
    public int DnsPort { get; }
    public IPEndPoint DnsEndPoint { get; }

    public static async Task<LocalServices> StartAsync()
    {
        int http1 = FlightTestServer.FreeTcpPort(), h2c = FlightTestServer.FreeTcpPort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, http1, o => o.Protocols = HttpProtocols.Http1);
            k.Listen(IPAddress.Loopback, h2c, o => o.Protocols = HttpProtocols.Http2);
        });
        var app = builder.Build();
        app.MapGet("/hello", () => "hello from kestrel");
        app.MapPost(GrpcPath, async context =>
        {
            // gRPC over HTTP/2: a length-prefixed message each way, status in the trailers.
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(GrpcFrame(Encoding.UTF8.GetBytes("pong")));
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.StartAsync();
        var dns = new UdpClient(new IPEndPoint(DnsAddress, 53));
        return new LocalServices(app, http1, h2c, dns);
    }

    /// <summary>gRPC message framing: compressed flag (1 byte), length (4 bytes, big-endian), message.</summary>
    public static byte[] GrpcFrame(byte[] message)
    {
        var frame = new byte[5 + message.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    /// <summary>A standard query (RFC 1035 §4.1) for one A record of <see cref="DnsName"/>.</summary>
    public static byte[] DnsQuery(ushort id)
    {
        var m = new List<byte>();
        m.AddRange([(byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);   // RD, QDCOUNT 1
        foreach (var label in DnsName.Split('.'))
        {
            m.Add((byte)label.Length);
            m.AddRange(Encoding.ASCII.GetBytes(label));
        }
        m.AddRange([0, 0, 1, 0, 1]);                                                     // root, QTYPE A, QCLASS IN
        return m.ToArray();
    }

    private async Task AnswerDnsAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult query;
            try { query = await _dns.ReceiveAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException) { return; }
            var q = query.Buffer;
            if (q.Length < 12) continue;
            // Response: same id and question; QR, RD, RA, NOERROR; one answer pointing at the question name.
            var r = new List<byte>(q);
            r[2] = 0x81;
            r[3] = 0x80;
            r[7] = 1;                                                                 // ANCOUNT 1
            r.AddRange([0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);                    // name ptr, A, IN, TTL 60, RDLENGTH 4
            r.AddRange(DnsAnswer);
            await _dns.SendAsync(r.ToArray(), query.RemoteEndPoint);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _dns.Dispose();
        try { await _dnsLoop; } catch (OperationCanceledException) { }
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stop.Dispose();
    }
}
