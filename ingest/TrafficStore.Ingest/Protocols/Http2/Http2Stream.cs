using System.Globalization;
using System.Text;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>
/// One HTTP/2 stream being assembled into an <see cref="HttpExchange"/> row: header blocks, DATA
/// bodies per direction, END_STREAM/RST_STREAM state, gRPC message counts.
/// </summary>
internal sealed class Http2Stream
{
    private readonly Http2Options _options;
    private MemoryStream? _requestBody;
    private MemoryStream? _responseBody;
    private GrpcMessageReader? _grpcRequest;
    private GrpcMessageReader? _grpcResponse;
    private bool _requestCut;
    private bool _responseCut;

    public Http2Stream(uint id, HttpExchange row, Http2Options options)
    {
        Id = id;
        Row = row;
        _options = options;
    }

    public uint Id { get; }
    public HttpExchange Row { get; }

    /// <summary>The client will send nothing more (END_STREAM, or a pushed / upgraded stream).</summary>
    public bool ClientEnded { get; set; }
    public bool ServerEnded { get; set; }
    public bool Reset { get; set; }
    /// <summary>The client's first HEADERS block arrived (later client blocks are trailers).</summary>
    public bool RequestHeadersSeen { get; set; }
    public bool Closed => Reset || (ClientEnded && ServerEnded);

    public bool HasRequest => Row.Method is not null || Row.RequestFrame is not null;
    public bool HasFinalResponse => Row.Status is not null;

    /// <summary>The row is worth emitting: a request or a final response was seen (as tshark's http2 rows).</summary>
    public bool HasRow => HasRequest || HasFinalResponse;

    public bool IsGrpc { get; private set; }

    public void AddAnomaly(string name)
    {
        if (!Row.Anomalies.Contains(name)) Row.Anomalies.Add(name);
    }

    /// <summary>Request header block (HEADERS from the client, or PUSH_PROMISE from the server).</summary>
    public void SetRequest(List<KeyValuePair<string, string>> fields, long frame, long timestampNs, long firstByteNs)
    {
        Row.RequestFrame = frame;
        Row.RequestTimestampNs = timestampNs;
        Row.RequestFirstByteNs ??= firstByteNs;
        foreach (var (name, value) in fields)
        {
            Row.RequestHeaders.Add(new(name, value));
            switch (name)
            {
                case ":method": Row.Method = value; break;
                case ":path": Row.Uri = value; break;
                case ":authority": Row.Host = value; break;
                case "host": Row.Host ??= value; break;
                case "content-type": Row.RequestContentType = value; break;
                case "content-encoding": Row.RequestContentEncoding = value; break;
            }
        }
        if (Row.RequestContentType is { } ct && IsGrpcContentType(ct)) StartGrpc();
    }

    public void AddRequestTrailers(List<KeyValuePair<string, string>> fields)
    {
        foreach (var f in fields) Row.RequestTrailers.Add(f);
    }

    /// <summary>A header block from the server: interim (1xx), final response, or trailers.</summary>
    public void AddResponseBlock(List<KeyValuePair<string, string>> fields, long frame, long timestampNs, long firstByteNs)
    {
        Row.ResponseFirstByteNs ??= firstByteNs;
        int? status = null;
        foreach (var (name, value) in fields)
        {
            if (name == ":status" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int s)) status = s;
        }
        if (status is >= 100 and < 200)
        {
            Row.InterimResponses++;
        }
        else if (status is not null && Row.Status is null)
        {
            Row.Status = status;
            Row.ResponseFrame = frame;
            Row.ResponseTimestampNs = timestampNs;
            foreach (var (name, value) in fields)
            {
                Row.ResponseHeaders.Add(new(name, value));
                switch (name)
                {
                    case "content-type": Row.ContentType = value; break;
                    case "content-encoding": Row.ContentEncoding = value; break;
                }
            }
            if (Row.ContentType is { } ct && IsGrpcContentType(ct)) StartGrpc();
        }
        else
        {
            foreach (var f in fields) Row.ResponseTrailers.Add(f);
        }
        // grpc-status/grpc-message: trailers, or the headers of a trailers-only response
        foreach (var (name, value) in fields)
        {
            if (name == "grpc-status" && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int g)) Row.GrpcStatus = g;
            else if (name == "grpc-message") Row.GrpcMessage = PercentDecode(value);
        }
    }

    /// <summary>DATA payload (padding removed); <paramref name="frameLength"/> is the frame's Length (padding included).</summary>
    public void AddData(bool fromClient, ReadOnlySpan<byte> data, int frameLength)
    {
        if (fromClient)
        {
            Row.RequestBodyLength = (Row.RequestBodyLength ?? 0) + frameLength;
            _requestCut |= Keep(ref _requestBody, data);
            _grpcRequest?.Feed(data);
        }
        else
        {
            Row.ResponseBodyLength = (Row.ResponseBodyLength ?? 0) + frameLength;
            _responseCut |= Keep(ref _responseBody, data);
            _grpcResponse?.Feed(data);
        }
    }

    /// <summary>Keeps <paramref name="data"/> up to the body cap; true when some of it was cut.</summary>
    private bool Keep(ref MemoryStream? body, ReadOnlySpan<byte> data)
    {
        body ??= new MemoryStream();
        long cap = _options.Payload.MaxBodyBytes ?? long.MaxValue;
        long room = Math.Max(0, cap - body.Length);
        if (data.Length > room)
        {
            Row.BodyTruncated = true;
            AddAnomaly(Http2Anomalies.BodyCap);
            body.Write(data[..(int)room]);
            return true;
        }
        body.Write(data);
        return false;
    }

    private void StartGrpc()
    {
        if (IsGrpc) return;
        IsGrpc = true;
        _grpcRequest = new GrpcMessageReader();
        _grpcResponse = new GrpcMessageReader();
        // gRPC path: "/" Service-Name "/" Method-Name, Service-Name = fully qualified "pkg.Service"
        if (Row.Uri is { Length: > 1 } path && path[0] == '/')
        {
            int slash = path.LastIndexOf('/');
            if (slash > 0)
            {
                Row.GrpcService = path[1..slash];
                Row.GrpcMethod = path[(slash + 1)..];
            }
        }
    }

    private static bool IsGrpcContentType(string contentType) =>
        contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>Fills the derived columns before the row is emitted.</summary>
    public void Finish()
    {
        if (_requestBody is not null) Row.RequestBody = _requestBody.ToArray();
        if (_responseBody is not null) Row.ResponseBody = _responseBody.ToArray();
        if (Row.Status is not null || Row.ResponseBodyLength is not null)
            Row.ResponseBodyLength ??= 0;
        if (HasRequest) Row.RequestBodyLength ??= 0;
        if (_grpcRequest is not null && _grpcResponse is not null)
        {
            Row.GrpcRequestMessages = _grpcRequest.Messages;
            Row.GrpcRequestMessageBytes = _grpcRequest.MessageBytes;
            Row.GrpcResponseMessages = _grpcResponse.Messages;
            Row.GrpcResponseMessageBytes = _grpcResponse.MessageBytes;
            Row.GrpcCompressed = _grpcRequest.Compressed || _grpcResponse.Compressed;
            if (_grpcRequest.InsideMessage || _grpcResponse.InsideMessage) AddAnomaly(Http2Anomalies.GrpcMessageTruncated);
        }
        else
        {
            // gRPC compresses per message (grpc-encoding), never with content-encoding
            Row.RequestBodyDecoded = DecodeContent(Row.RequestBody, Row.RequestContentEncoding, ClientEnded && !_requestCut).Decoded;
            var response = DecodeContent(Row.ResponseBody, Row.ContentEncoding, ServerEnded && !_responseCut);
            Row.ResponseBodyDecoded = response.Decoded;
            Row.ResponseBodyDecodedLength = response.DecodedLength;
        }
        Row.ResponseBodyDecodedLength ??= Row.ResponseBodyLength;
    }

    /// <summary>Removes content codings with the decoder shared with HTTP/1.x; a cut body is not decoded.</summary>
    private ContentDecodeResult DecodeContent(byte[]? body, string? contentEncoding, bool complete)
    {
        var payload = _options.Payload;
        if (body is null || body.Length == 0 || !payload.DecodeContent || !complete) return default;
        var codings = ContentDecoder.ParseCodings(contentEncoding);
        if (codings.Count == 0) return default;
        var result = ContentDecoder.Decode(body, codings, payload.MaxDecodedBodyBytes);
        if (result.AnomalyName is { } name) AddAnomaly(name);
        if (result.Status == ContentDecodeStatus.DecodedOutputCapped) Row.BodyTruncated = true;
        return result;
    }

    /// <summary>grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Status-Message").</summary>
    public static string PercentDecode(string value)
    {
        if (value.IndexOf('%') < 0) return value;
        var bytes = new List<byte>(value.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%' && i + 2 < value.Length && IsHex(value[i + 1]) && IsHex(value[i + 2]))
            {
                bytes.Add((byte)(HexValue(value[i + 1]) << 4 | HexValue(value[i + 2])));
                i += 2;
            }
            else
            {
                int n = Encoding.UTF8.GetBytes(value.AsSpan(i, char.IsHighSurrogate(c) && i + 1 < value.Length ? 2 : 1), utf8);
                for (int k = 0; k < n; k++) bytes.Add(utf8[k]);
                if (n == 4) i++;
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);
    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
