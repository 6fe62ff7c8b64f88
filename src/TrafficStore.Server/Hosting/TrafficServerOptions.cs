using System.Net;
using Microsoft.Extensions.Logging;

namespace TrafficStore.Server.Hosting;

/// <summary>How <see cref="TrafficServer"/> listens and logs.</summary>
public sealed record TrafficServerOptions
{
    public const int DefaultPort = 8815;

    /// <summary>Address and port; port 0 picks a free port (see <see cref="TrafficServer.Address"/>).</summary>
    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, DefaultPort);

    /// <summary>The /healthz and /metrics endpoint (HTTP/1.1, no TLS); null: the Flight address, port + 1 (a free port when that is 0).</summary>
    public IPEndPoint? OpsListen { get; init; }

    /// <summary>PEM certificate and key: serve TLS (HTTP/2 and HTTP/1.1 by ALPN). Both or neither.</summary>
    public string? TlsCertificateFile { get; init; }
    public string? TlsKeyFile { get; init; }

    /// <summary>Structured (JSON) console logs; false writes plain console lines.</summary>
    public bool JsonLogs { get; init; } = true;
    public LogLevel MinimumLogLevel { get; init; } = LogLevel.Information;

    /// <summary>Largest gRPC message the server accepts (one DoPut batch).</summary>
    public int MaxReceiveMessageBytes { get; init; } = 64 << 20;

    /// <summary>
    /// Response bytes Kestrel buffers per connection before a write waits for the socket
    /// (<c>KestrelServerLimits.MaxResponseBufferSize</c>, 64 KiB by default): one DoGet message is up to
    /// <see cref="Flight.TrafficFlightServer.MaxMessageBytes"/>, so a larger buffer lets the next batch be
    /// serialized while the last is still going out. Null: unbounded.
    /// </summary>
    public long? ResponseBufferBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Size of the memory blocks Kestrel's connections read and write through (<see cref="LargeBlockMemoryPool"/>);
    /// null or 0 keeps Kestrel's own pool (4 KiB blocks). Larger blocks make fewer block rents, copies into pieces
    /// and iovec entries per megabyte a DoGet sends.
    /// </summary>
    public int? MemoryBlockBytes { get; init; } = DefaultMemoryBlockBytes;

    public const int DefaultMemoryBlockBytes = 64 << 10;

    /// <summary>Free blocks the pool keeps for reuse, in bytes; blocks returned beyond it are left to the GC.</summary>
    public long MemoryPoolRetainedBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Largest file an <c>export.pcap</c> call may produce, in bytes (a caller's <c>max_bytes</c> can only lower it).
    /// Exports stream with bounded memory whatever their size; this bounds the time, disk and bandwidth one call
    /// can take. Reaching it ends the call with ResourceExhausted.
    /// </summary>
    public long MaxExportBytes { get; init; } = DefaultMaxExportBytes;

    public const long DefaultMaxExportBytes = 4L << 30;

    /// <summary>Parses "host:port", "[v6]:port" or a bare port (loopback).</summary>
    public static IPEndPoint ParseListen(string text)
    {
        if (int.TryParse(text, out var bare) && bare is >= 0 and <= 65535) return new IPEndPoint(IPAddress.Loopback, bare);
        if (IPEndPoint.TryParse(text, out var ep) && text.Contains(':') && ep.Port is >= 0 and <= 65535) return ep;
        int colon = text.LastIndexOf(':');
        if (colon > 0 && text[..colon] == "localhost" && int.TryParse(text[(colon + 1)..], out var p)) return new IPEndPoint(IPAddress.Loopback, p);
        throw new FormatException($"'{text}' is not an address:port (e.g. 127.0.0.1:{DefaultPort}, 0.0.0.0:{DefaultPort}, [::1]:{DefaultPort})");
    }
}
