using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Engine.Retention;
using TrafficStore.Server.Flight;
using TrafficStore.Store.Client;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Client;

/// <summary>
/// <see cref="ITrafficClient"/> over Arrow Flight: what the CLI's <c>query</c>, <c>export</c> and
/// <c>retention</c> commands use with <c>--server URL [--token T]</c>. Queries go out as DoGet
/// tickets (the query text itself), admin calls as Flight actions (docs/server.md).
/// A server's InvalidArgument or NotFound answer becomes a <see cref="QueryException"/> with the
/// server's message; a refused token becomes an <see cref="UnauthorizedAccessException"/>.
/// </summary>
public sealed class FlightTrafficClient : ITrafficClient
{
    private readonly GrpcChannel _channel;
    private readonly FlightClient _client;
    private readonly Metadata _headers = new();

    public FlightTrafficClient(Uri server, string? token, HttpMessageHandler? handler = null)
    {
        _channel = GrpcChannel.ForAddress(server, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 << 20,
            MaxSendMessageSize = 64 << 20,
            HttpHandler = handler ?? StockHandler(),
            DisposeHttpClient = true,
        });
        _client = new FlightClient(_channel);
        if (!string.IsNullOrEmpty(token)) _headers.Add("Authorization", "Bearer " + token);
    }

    /// <summary>The HTTP/2 stream receive window this client starts every call with (docs/server.md, "client side").</summary>
    public const int RecommendedStreamWindowBytes = 4 << 20;

    /// <summary>The environment variable <see cref="Connect"/> reads the token from when the address carries none.</summary>
    public const string TokenVariable = "TRAFFICSTORE_TOKEN";

    /// <summary>
    /// A client for a server address as users write it: <c>grpc://host:port</c>, <c>grpc+tcp://</c> or
    /// <c>http://</c> (cleartext), <c>grpc+tls://</c> or <c>https://</c> (TLS). The bearer token is
    /// <paramref name="token"/>, else the address's user part (<c>grpc://TOKEN@host:port</c>), else
    /// the <c>TRAFFICSTORE_TOKEN</c> environment variable.
    /// </summary>
    /// <param name="trustedCaFile">PEM file of the certificate authorities (or the self-signed certificate) to trust for a
    /// TLS server instead of the system's store (<c>--tls-ca</c>); null: the system's trust store.</param>
    public static FlightTrafficClient Connect(string server, string? token = null, string? trustedCaFile = null)
    {
        if (!Uri.TryCreate(server.Contains("://", StringComparison.Ordinal) ? server : "grpc://" + server, UriKind.Absolute, out var uri) || uri.Port <= 0)
            throw new QueryException($"'{server}' is not a server address (e.g. grpc://127.0.0.1:8815)");
        var scheme = uri.Scheme switch
        {
            "grpc" or "grpc+tcp" or "http" => "http",
            "grpc+tls" or "https" => "https",
            _ => throw new QueryException($"unsupported scheme '{uri.Scheme}' in '{server}' (grpc, grpc+tcp, grpc+tls, http, https)"),
        };
        token ??= uri.UserInfo.Length > 0 ? Uri.UnescapeDataString(uri.UserInfo) : Environment.GetEnvironmentVariable(TokenVariable);
        if (trustedCaFile is not null && scheme != "https")
            throw new QueryException($"--tls-ca is for a TLS server (grpc+tls:// or https://), not '{server}'");
        var handler = trustedCaFile is null ? null : StockHandler(LoadAuthorities(trustedCaFile));
        return new FlightTrafficClient(new Uri($"{scheme}://{uri.Host}:{uri.Port}"), token, handler);
    }

    private static X509Certificate2Collection LoadAuthorities(string file)
    {
        var authorities = new X509Certificate2Collection();
        try { authorities.ImportFromPemFile(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new QueryException($"--tls-ca {file}: {e.Message}");
        }
        if (authorities.Count == 0) throw new QueryException($"--tls-ca {file}: no PEM certificate in it");
        return authorities;
    }

    /// <summary>
    /// What GrpcChannel would create itself (several HTTP/2 connections), with the 4 MiB stream window docs/server.md
    /// recommends for payload readers (13–15 % less CPU per megabyte answer). Given <paramref name="authorities"/>, it
    /// validates the server's chain against them only, the host name still checked: a private CA trusted for this
    /// client alone, not for the whole machine as SSL_CERT_FILE would.
    /// </summary>
    private static SocketsHttpHandler StockHandler(X509Certificate2Collection? authorities = null)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, InitialHttp2StreamWindowSize = RecommendedStreamWindowBytes };
        if (authorities is not null)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // private CAs rarely publish revocation lists
                return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            };
        return handler;
    }

    public Task<TrafficQueryResult> QueryAsync(TrafficQuery query, CancellationToken ct = default) =>
        QueryAsync(QueryText.ToJson(query), ct);

    public async Task<TrafficQueryResult> QueryAsync(string query, CancellationToken ct = default)
    {
        var call = _client.GetStream(new FlightTicket(query), _headers, null, ct);
        Schema schema;
        try { schema = await call.ResponseStream.Schema; }
        catch (RpcException e) { call.Dispose(); throw Translate(e); }
        return new TrafficQueryResult(schema, Read(call, ct));
    }

    private static async IAsyncEnumerable<RecordBatch> Read(FlightRecordBatchStreamingCall call, [EnumeratorCancellation] CancellationToken ct)
    {
        using (call)
        {
            while (true)
            {
                bool more;
                try { more = await call.ResponseStream.MoveNext(ct); }
                catch (RpcException e) { throw Translate(e); }
                if (!more) yield break;
                yield return call.ResponseStream.Current;
            }
        }
    }

    /// <summary>
    /// The <c>export.pcap</c> action: each result is written to <paramref name="output"/> as it arrives (nothing is
    /// held beyond one result); the summary comes from the server's trailer. A server limit reached mid-way is a
    /// <see cref="PcapExportLimitException"/>, after the part already written.
    /// </summary>
    public async Task<PcapExportSummary> ExportPcapAsync(PcapExportRequest request, Stream output, CancellationToken ct = default)
    {
        var body = new JsonObject();
        if (request.ConnectionId is { } id) body["connection_id"] = id;
        if (request.Pod is { } pod) body["pod"] = pod;
        if (request.Namespace is { } ns) body["namespace"] = ns;
        if (request.FromNs is { } from) body["from"] = from;
        if (request.ToNs is { } to) body["to"] = to;
        if (request.Format != PcapExportFormat.Auto) body["format"] = request.Format == PcapExportFormat.PcapNg ? "pcapng" : "pcap";
        if (request.MaxBytes is { } max) body["max_bytes"] = max;
        using var call = _client.DoAction(new FlightAction("export.pcap", body.ToJsonString()), _headers, null, ct);
        long bytes = 0;
        try
        {
            while (await call.ResponseStream.MoveNext(ct))
            {
                var chunk = call.ResponseStream.Current.Body.Memory;
                await output.WriteAsync(chunk, ct);
                bytes += chunk.Length;
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
        {
            throw new PcapExportLimitException(e.Status.Detail);
        }
        catch (RpcException e) { _lastStatus = e.StatusCode; throw Translate(e); }
        await output.FlushAsync(ct);
        var trailer = call.GetTrailers().FirstOrDefault(t => t.Key == TrafficFlightServer.PcapSummaryTrailer);
        return (trailer is { IsBinary: true } ? PcapSummaryJson.FromBytes(trailer.ValueBytes) : null)
               ?? new PcapExportSummary(-1, bytes, -1, ["the server sent no export summary (frames and link types unknown)"]);
    }

    public async Task<RetentionPolicy> GetRetentionPolicyAsync(CancellationToken ct = default) =>
        WireJson.PolicyFromJson(await ActionText("retention.list", "", ct));

    public async Task SetRetentionPolicyAsync(RetentionPolicy policy, CancellationToken ct = default) =>
        await ActionText("retention.set", WireJson.PolicyToJson(policy).ToJsonString(), ct);

    public async Task<RetentionReport> ApplyRetentionAsync(CancellationToken ct = default) =>
        WireJson.ReportFromJson(await ActionText("retention.apply", "", ct));

    public async Task<StoreStatus> GetStatsAsync(CancellationToken ct = default) =>
        JsonSerializer.Deserialize<StoreStatus>(await ActionText("stats", "", ct), WireJson.Options)
        ?? throw new InvalidDataException("the server's stats were empty");

    public async Task<IReadOnlyList<PayloadMessage>> GetPayloadAsync(long exchangeId, CancellationToken ct = default)
    {
        string json;
        try { json = await ActionText("payload.get", new JsonObject { ["exchange_id"] = exchangeId }.ToJsonString(), ct); }
        catch (QueryException) when (_lastStatus == StatusCode.NotFound) { return []; }
        var list = new List<PayloadMessage>();
        foreach (var node in JsonNode.Parse(json)!.AsArray())
        {
            var o = node!.AsObject();
            list.Add(new PayloadMessage(
                (long)o["exchange_id"]!, (long)o["connection_id"]!, (string)o["direction"]!, (string)o["kind"]!,
                (long)o["timestamp_ns"]!, (string?)o["headers"] ?? "",
                o["body"] is { } b ? Convert.FromBase64String((string)b!) : ReadOnlyMemory<byte>.Empty,
                o["decoded_body"] is { } d ? Convert.FromBase64String((string)d!) : null,
                (bool)o["truncated"]!));
        }
        return list;
    }

    private StatusCode _lastStatus;

    private async Task<string> ActionText(string type, string body, CancellationToken ct)
    {
        using var text = new MemoryStream();
        await foreach (var chunk in Action(type, body, ct)) text.Write(chunk.Span);
        return System.Text.Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    private async IAsyncEnumerable<ReadOnlyMemory<byte>> Action(string type, string body, [EnumeratorCancellation] CancellationToken ct)
    {
        using var call = _client.DoAction(new FlightAction(type, body), _headers, null, ct);
        while (true)
        {
            bool more;
            try { more = await call.ResponseStream.MoveNext(ct); }
            catch (RpcException e) { _lastStatus = e.StatusCode; throw Translate(e); }
            if (!more) yield break;
            yield return call.ResponseStream.Current.Body.Memory;
        }
    }

    private static Exception Translate(RpcException e) => e.StatusCode switch
    {
        StatusCode.InvalidArgument or StatusCode.NotFound => new QueryException(e.Status.Detail),
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => new UnauthorizedAccessException($"the server refused the call: {e.Status.Detail}"),
        _ => new IOException($"the server answered {e.StatusCode}: {e.Status.Detail}", e),
    };

    public ValueTask DisposeAsync()
    {
        _channel.Dispose();
        return ValueTask.CompletedTask;
    }
}
