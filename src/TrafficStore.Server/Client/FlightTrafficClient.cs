using System.Buffers.Binary;
using System.Runtime.CompilerServices;
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
            HttpHandler = handler,
            DisposeHttpClient = true,
        });
        _client = new FlightClient(_channel);
        if (!string.IsNullOrEmpty(token)) _headers.Add("Authorization", "Bearer " + token);
    }

    /// <summary>The environment variable <see cref="Connect"/> reads the token from when the address carries none.</summary>
    public const string TokenVariable = "TRAFFICSTORE_TOKEN";

    /// <summary>
    /// A client for a server address as users write it: <c>grpc://host:port</c>, <c>grpc+tcp://</c> or
    /// <c>http://</c> (cleartext), <c>grpc+tls://</c> or <c>https://</c> (TLS). The bearer token is
    /// <paramref name="token"/>, else the address's user part (<c>grpc://TOKEN@host:port</c>), else
    /// the <c>TRAFFICSTORE_TOKEN</c> environment variable.
    /// </summary>
    public static FlightTrafficClient Connect(string server, string? token = null)
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
        return new FlightTrafficClient(new Uri($"{scheme}://{uri.Host}:{uri.Port}"), token);
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

    public async Task<PcapExportSummary> ExportPcapAsync(PcapExportRequest request, Stream output, CancellationToken ct = default)
    {
        var body = new JsonObject();
        if (request.ConnectionId is { } id) body["connection_id"] = id;
        if (request.Pod is { } pod) body["pod"] = pod;
        if (request.Namespace is { } ns) body["namespace"] = ns;
        if (request.FromNs is { } from) body["from"] = from;
        if (request.ToNs is { } to) body["to"] = to;
        using var buffer = new MemoryStream();
        await foreach (var chunk in Action("export.pcap", body.ToJsonString(), ct)) buffer.Write(chunk.Span);
        buffer.Position = 0;
        await buffer.CopyToAsync(output, ct);
        return Summarize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>Counts the records of a classic pcap file (24-byte file header, 16-byte record headers).</summary>
    private static PcapExportSummary Summarize(ReadOnlySpan<byte> pcap)
    {
        if (pcap.Length < 24) return new PcapExportSummary(0, pcap.Length, 0, ["the server returned no pcap file header"]);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(pcap);
        bool little = magic is 0xA1B2C3D4 or 0xA1B23C4D;
        uint Read32(ReadOnlySpan<byte> s) => little ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);
        int linkType = (int)(Read32(pcap[20..]) & 0x0FFFFFFF);
        long frames = 0;
        int offset = 24;
        var warnings = new List<string>();
        while (offset + 16 <= pcap.Length)
        {
            long included = Read32(pcap[(offset + 8)..]);
            if (offset + 16 + included > pcap.Length) { warnings.Add("the last record is cut short"); break; }
            offset += 16 + (int)included;
            frames++;
        }
        return new PcapExportSummary(frames, pcap.Length, linkType, warnings);
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
