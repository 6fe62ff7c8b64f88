using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Server;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using TrafficStore.Engine.Query;
using TrafficStore.Server.Observability;
using TrafficStore.Server.Security;
using TrafficStore.Store.Client;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Query;
using StoreFilterOp = TrafficStore.Store.Query.FilterOp;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The Arrow Flight service of docs/server.md. Queries arrive as the command of a descriptor
/// (GetFlightInfo, GetSchema) or as a ticket (DoGet), in either form of docs/query-language.md;
/// a path descriptor <c>[table]</c> means the whole table. Every call is authorized by
/// <see cref="CallAuthorizer"/>; namespace-limited tokens get a namespace filter added to every
/// query, and tokens without <c>payloads:read</c> get redacted results (<see cref="Redactor"/>).
/// </summary>
public sealed class TrafficFlightServer : FlightServer
{
    /// <summary>Batches are re-sliced so no gRPC message exceeds this (stock clients accept 4 MiB).</summary>
    public const int MaxMessageBytes = 3 << 20;
    /// <summary>Batches read ahead of the network by DoGet.</summary>
    public const int PipelinedBatches = 2;
    /// <summary>Error messages are cut to this many characters (they may quote hostile input).</summary>
    public const int MaxStatusDetailChars = 1024;
    /// <summary>export.pcap results carry at most this many bytes each.</summary>
    public const int PcapChunkBytes = 1 << 20;

    private readonly ServedStore _store;
    private readonly CallAuthorizer _auth;
    private readonly ServerMetrics _metrics;
    private readonly ILogger _log;
    private readonly TimeProvider _clock;
    private readonly long _maxExportBytes;

    public TrafficFlightServer(ServedStore store, CallAuthorizer auth, ServerMetrics metrics, ILogger<TrafficFlightServer> log, TimeProvider? clock = null,
        Hosting.TrafficServerOptions? options = null)
    {
        _store = store;
        _auth = auth;
        _metrics = metrics;
        _log = log;
        _clock = clock ?? TimeProvider.System;
        _maxExportBytes = (options ?? new Hosting.TrafficServerOptions()).MaxExportBytes;
        _metrics.DeliveryMarks = () => (store.Engine.DeliverySources, store.Engine.ExpiredDeliverySources);
    }

    public static readonly IReadOnlyList<FlightActionType> Actions =
    [
        new("health", "Store health: quarantined segments, recovery notes and a write failure (JSON)."),
        new("stats", "Per-table rows, bytes, segments; WAL, index and retention counters (JSON)."),
        new("retention.list", "The retention policy in force (JSON)."),
        new("retention.set", "Replace the retention policy; body: policy JSON. Needs the admin scope."),
        new("retention.apply", "Apply the retention policy now; returns the report (JSON). Needs the admin scope."),
        new("export.pcap", "Captured frames as a pcap or pcapng file, streamed in results of at most 1 MiB; body: {\"connection_id\":N} | {\"pod\":P,\"namespace\":NS} | {\"from\":T,\"to\":T}, optional \"format\" (auto, pcap, pcapng) and \"max_bytes\". Needs payloads:read."),
        new("payload.get", "An exchange's stored messages (headers, bodies base64) as JSON; body: {\"exchange_id\":N}. Bodies and secrets redacted without payloads:read."),
    ];

    // ------------------------------------------------------------------ discovery

    public override Task ListFlights(FlightCriteria request, IAsyncStreamWriter<FlightInfo> responseStream, ServerCallContext context) =>
        Guard(context, async () =>
        {
            var token = _auth.Require(context, Scopes.Read);
            var stats = _store.Engine.GetStats();
            foreach (var table in _store.Engine.TableNames)
            {
                var schema = _store.Engine.QuerySchema(new QuerySpec(table));
                if (!token.AllNamespaces && NamespaceField(schema) is null) continue;
                var descriptor = FlightDescriptor.CreatePathDescriptor(table);
                var endpoint = new FlightEndpoint(new FlightTicket(table), []);
                long rows = token.AllNamespaces && stats.Tables.TryGetValue(table, out var t) ? t.Rows : -1;
                long bytes = token.AllNamespaces && stats.Tables.TryGetValue(table, out var t2) ? t2.BytesOnDisk : -1;
                await responseStream.WriteAsync(new FlightInfo(schema, descriptor, [endpoint], rows, bytes));
            }
        });

    public override Task<FlightInfo> GetFlightInfo(FlightDescriptor request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            var token = _auth.Require(context, Scopes.Read);
            var query = Scope(QueryOf(request), token, context);
            var result = await _store.Local.QueryAsync(query, context.CancellationToken);
            // The store's translation (filters on logical fields included) lets zone maps and the index narrow the estimate.
            var spec = QueryTranslator.Translate(query) with { Columns = null };
            var estimate = await _store.Engine.EstimateAsync(spec, context.CancellationToken);

            // One endpoint per time partition when the partitions' results concatenate to the
            // query's result: default (time, ascending) order and no limit.
            var endpoints = new List<FlightEndpoint>();
            bool splittable = query.AsOfNs is null && query.Limit is null && query.OrderBy is null && !query.Descending && estimate.Groups.Count > 1;
            if (splittable)
            {
                foreach (var g in estimate.Groups)
                {
                    var narrowed = query with
                    {
                        FromNs = Math.Max(query.FromNs ?? long.MinValue, g.PartitionStart),
                        ToNs = Math.Min(query.ToNs ?? long.MaxValue, g.PartitionEnd),
                    };
                    endpoints.Add(new FlightEndpoint(new FlightTicket(QueryText.ToJson(Unscoped(narrowed, query, token))), []));
                }
            }
            else
            {
                endpoints.Add(new FlightEndpoint(new FlightTicket(QueryText.ToJson(Unscoped(query, query, token))), []));
            }
            long rows = query.Limit is int l ? Math.Min(l, estimate.EstimatedRows) : estimate.EstimatedRows;
            return new FlightInfo(result.Schema, request, endpoints, rows, estimate.EstimatedBytes, ordered: true, ByteString.Empty);
        });

    public override Task<Schema> GetSchema(FlightDescriptor request, ServerCallContext context) =>
        Guard(context, async () =>
        {
            var token = _auth.Require(context, Scopes.Read);
            var query = Scope(QueryOf(request), token, context);
            var result = await _store.Local.QueryAsync(query, context.CancellationToken);
            return result.Schema;
        });

    // ------------------------------------------------------------------ data

    /// <summary>The stock DoGet; <see cref="FlightDoGetService"/> serves the method in <see cref="Hosting.TrafficServer"/>.</summary>
    public override Task DoGet(FlightTicket ticket, FlightServerRecordBatchStreamWriter responseStream, ServerCallContext context) =>
        StreamTicketAsync(ticket.Ticket, new StockSink(responseStream), context);

    /// <summary>DoGet: runs the ticket's query and streams its batches, each under <see cref="MaxMessageBytes"/>.</summary>
    internal Task StreamTicketAsync(ByteString ticket, IRecordBatchSink sink, ServerCallContext context) =>
        Guard(context, async () =>
        {
            using var _ = sink;
            var started = Stopwatch.GetTimestamp();
            var token = _auth.Require(context, Scopes.Read);
            var text = DecodeUtf8(ticket, "ticket");
            var query = Scope(Parse(text), token, context);
            var result = await _store.Local.QueryAsync(query, context.CancellationToken);
            bool redact = !token.Has(Scopes.PayloadsRead);
            await sink.StartAsync(result.Schema);
            long rows = 0;
            // The store reads (and redacts) the next batches while the current one is on the wire.
            var pipe = System.Threading.Channels.Channel.CreateBounded<RecordBatch>(new System.Threading.Channels.BoundedChannelOptions(PipelinedBatches)
            {
                SingleReader = true,
                SingleWriter = true,
            });
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            var producer = Task.Run(async () =>
            {
                try
                {
                    await foreach (var batch in result.Batches.WithCancellation(stop.Token))
                        await pipe.Writer.WriteAsync(redact ? Redactor.Redact(batch) : batch, stop.Token);
                    pipe.Writer.Complete();
                }
                catch (Exception e) { pipe.Writer.Complete(e); }
            }, stop.Token);
            try
            {
                rows = await CoalescingBatchWriter.WriteAllAsync(pipe.Reader, sink, context.CancellationToken);
            }
            finally
            {
                stop.Cancel();
                try { await producer; } catch (OperationCanceledException) { }
            }
            _metrics.QueryCompleted(Stopwatch.GetElapsedTime(started), rows);
            if (result.Warnings.Count > 0)
                _log.LogWarning("Query {Query} warnings: {Warnings}", text, string.Join("; ", result.Warnings));
        });

    /// <summary>
    /// DoPut. Every way it ends has its status and metric label (<c>trafficstore_failed_calls_total{method,code}</c>):
    /// a stream that is not Flight/IPC or a batch that does not fit its table <c>InvalidArgument</c>; an unknown table
    /// <c>NotFound</c>; a new agent past the store's delivery-source limit <c>ResourceExhausted</c>; a client that went
    /// away mid-stream (cancelled the call, reset the stream or the connection) <c>Cancelled</c> — not the client's
    /// input, and batches it was not sent a PutResult for may or may not be stored (an agent resends them with their
    /// identity, stored once); a store that cannot make the batch durable (its write-ahead log failed) <c>Internal</c>,
    /// with no PutResult for that batch, so the agent keeps it and resends it (DoPutWalFailureTests). Refused rows count
    /// in <c>trafficstore_dropped_input_rows_total</c>.
    /// </summary>
    public override Task DoPut(FlightServerRecordBatchStreamReader requestStream, IAsyncStreamWriter<FlightPutResult> responseStream, ServerCallContext context) =>
        Guard(context, async () =>
        {
            try
            {
                await PutAsync(requestStream, responseStream, context);
            }
            catch (Exception e) when (e is not RpcException && ClientWentAway(e, context, transport: false))
            {
                throw ClientGone(e);
            }
        });

    private static RpcException ClientGone(Exception e) =>
        new(new Status(StatusCode.Cancelled, $"the client went away during DoPut ({e.GetType().Name}); batches without a PutResult may or may not be stored"));

    private async Task PutAsync(FlightServerRecordBatchStreamReader requestStream, IAsyncStreamWriter<FlightPutResult> responseStream, ServerCallContext context)
    {
        var token = _auth.Require(context, Scopes.Write);
        if (!token.AllNamespaces)
            throw _auth.Deny(context, StatusCode.PermissionDenied, $"token '{token.Name}' is limited to namespaces and cannot write", token);
        var descriptor = await ReadPutStream(async () => await requestStream.FlightDescriptor, context);
        // A first message without a descriptor gives null (or a descriptor whose paths are null).
        if (descriptor?.Type != FlightDescriptorType.Path || descriptor.Paths?.Count() != 1)
            throw new RpcException(new Status(StatusCode.InvalidArgument, "DoPut needs a path descriptor naming one table, e.g. [\"connections\"]"));
        var table = descriptor.Paths.Single();
        RequireTable(table);
        while (await ReadPutStream(() => requestStream.MoveNext(context.CancellationToken), context))
        {
            var batch = requestStream.Current;
            if (!DeliveryMetadata.TryParse(requestStream.ApplicationMetadata, out var delivery, out var invalid))
            {
                _metrics.Dropped(batch.Length);
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"batch rejected for table '{table}': {invalid}"));
            }
            Engine.AppendResult ack;
            try
            {
                // A batch naming its delivery (agent id, batch number) is stored at most once: a resend after a
                // lost PutResult is skipped and acknowledged again (docs/server.md "Exactly-once DoPut").
                ack = delivery is { } d
                    ? await _store.Database.AppendBatchOnceAsync(table, batch, d, context.CancellationToken)
                    : await _store.Database.AppendBatchAsync(table, batch, context.CancellationToken);
            }
            catch (ArgumentException e)
            {
                _metrics.Dropped(batch.Length);
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"batch rejected for table '{table}': {e.Message}"));
            }
            catch (Engine.DeliverySourceLimitException e)
            {
                // A writer inventing agent ids must not grow the store's marks without bound (StoreOptions.MaxDeliverySources).
                _metrics.Dropped(batch.Length);
                _metrics.RefusedDeliverySource();
                _log.LogWarning("DoPut to '{Table}' from {Peer} token={Token}: new agent {Agent} refused, the store keeps delivery marks for at most {Limit} agents; {Rows} rows not stored",
                    table, context.Peer, token.Name, e.DeliverySource, e.Limit, batch.Length);
                throw new RpcException(new Status(StatusCode.ResourceExhausted, $"batch refused for table '{table}': {e.Message}; retry later (marks of agents idle for long expire)"),
                    new Metadata { { DeliveryMetadata.RefusalTrailer, DeliveryMetadata.SourceLimitRefusal } });
            }
            _metrics.Ingested(ack.Rows);
            var body = new JsonObject { ["table"] = table, ["rows"] = ack.Rows, ["sequence"] = ack.Sequence };
            if (delivery is { } sent)
            {
                body["duplicate_rows"] = ack.DuplicateRows;
                if (ack.DuplicateRows > 0)
                {
                    _metrics.Duplicate(ack.DuplicateRows);
                    _log.LogInformation("DoPut to '{Table}': batch {Batch} of agent {Agent} (from row {FirstRow}) was stored before; {Duplicate} of {Rows} rows skipped, acknowledged again",
                        table, sent.Batch, sent.Source, sent.FirstRow, ack.DuplicateRows, batch.Length);
                }
            }
            // Acknowledged only now: the append returns after the WAL fsync.
            try { await responseStream.WriteAsync(new FlightPutResult(body.ToJsonString())); }
            catch (Exception e) when (e is not RpcException && ClientWentAway(e, context, transport: true)) { throw ClientGone(e); }
        }
    }

    /// <summary>
    /// Reads the next part of a DoPut stream. Arrow's reader throws whatever it meets on a malformed
    /// stream (a message that is not protobuf, no descriptor, a batch before the schema, a cut IPC
    /// message: plain Exception, NullReferenceException, InvalidProtocolBufferException ...): all the client's error,
    /// unless the client went away (then the read fails because the stream ended, not for what it held).
    /// </summary>
    private static async Task<T> ReadPutStream<T>(Func<Task<T>> read, ServerCallContext context)
    {
        try { return await read(); }
        catch (Exception e) when (e is not RpcException && ClientWentAway(e, context, transport: true))
        {
            throw ClientGone(e);
        }
        catch (Exception e) when (e is not (RpcException or OperationCanceledException))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"the DoPut stream is not a Flight stream of Arrow IPC messages (a path descriptor and the schema first, then record batches): {e.GetType().Name}: {e.Message}"));
        }
    }

    /// <summary>
    /// Whether <paramref name="e"/> comes from the client going away rather than from what it sent or from the store:
    /// the call was aborted (Kestrel cancels the request when the client cancels the call, resets the stream or the
    /// connection closes), Kestrel's connection reset/abort, or, for a read or write of the call's own stream
    /// (<paramref name="transport"/>), a bare <see cref="IOException"/> ("The client reset the request stream.").
    /// Not for the store's append: a failing WAL write is an IOException too, and the server's fault (Internal).
    /// </summary>
    private static bool ClientWentAway(Exception e, ServerCallContext context, bool transport)
    {
        if (context.CancellationToken.IsCancellationRequested) return true;
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException) return true;
            // A cut IPC message is the reader's EndOfStreamException / InvalidDataException, never a bare IOException.
            if (transport && x.GetType() == typeof(IOException)) return true;
        }
        return false;
    }

    private sealed class StockSink(FlightServerRecordBatchStreamWriter writer) : IRecordBatchSink
    {
        public Task StartAsync(Schema schema) => writer.SetupStream(schema);
        public Task WriteAsync(RecordBatch batch, bool flush) => writer.WriteAsync(batch); // the stock writer flushes every message
        public Task FlushAsync() => Task.CompletedTask;
        public void Dispose() { }
    }

    // ------------------------------------------------------------------ actions

    public override Task ListActions(IAsyncStreamWriter<FlightActionType> responseStream, ServerCallContext context) =>
        Guard(context, async () =>
        {
            _auth.Require(context, Scopes.Read);
            foreach (var a in Actions) await responseStream.WriteAsync(a);
        });

    public override Task DoAction(FlightAction request, IAsyncStreamWriter<FlightResult> responseStream, ServerCallContext context) =>
        Guard(context, async () =>
        {
            var ct = context.CancellationToken;
            var body = request.Body.IsEmpty ? "" : DecodeUtf8(request.Body, "action body");
            switch (request.Type)
            {
                case "health":
                {
                    _auth.Require(context, Scopes.Read);
                    var h = _store.Engine.Health;
                    await WriteJson(responseStream, new JsonObject
                    {
                        ["healthy"] = h.Healthy,
                        ["quarantined"] = JsonSerializer.SerializeToNode(h.Quarantined, WireJson.Options),
                        ["recovery_notes"] = JsonSerializer.SerializeToNode(h.RecoveryNotes, WireJson.Options),
                        ["write_failure"] = h.WriteFailure,
                    });
                    break;
                }
                case "stats":
                {
                    _auth.Require(context, Scopes.Read);
                    var status = await _store.Local.GetStatsAsync(ct);
                    await WriteJson(responseStream, JsonSerializer.SerializeToNode(status, WireJson.Options)!);
                    break;
                }
                case "retention.list":
                    _auth.Require(context, Scopes.Read);
                    await WriteJson(responseStream, WireJson.PolicyToJson(await _store.Local.GetRetentionPolicyAsync(ct)));
                    break;
                case "retention.set":
                {
                    var token = _auth.Require(context, Scopes.Admin);
                    var policy = WireJson.PolicyFromJson(body);
                    await _store.Local.SetRetentionPolicyAsync(policy, ct);
                    _log.LogInformation("Retention policy set by {Token}: {Policy}", token.Name, WireJson.PolicyToJson(policy).ToJsonString());
                    await WriteJson(responseStream, WireJson.PolicyToJson(policy));
                    break;
                }
                case "retention.apply":
                {
                    var token = _auth.Require(context, Scopes.Admin);
                    var report = await _store.Local.ApplyRetentionAsync(ct);
                    _log.LogInformation("Retention applied by {Token}: {Rows} rows, {Bytes} bytes deleted", token.Name, report.RowsDeleted, report.BytesFreed);
                    await WriteJson(responseStream, WireJson.ReportToJson(report));
                    break;
                }
                case "export.pcap":
                    await ExportPcap(body, responseStream, context);
                    break;
                case "payload.get":
                    await GetPayload(body, responseStream, context);
                    break;
                default:
                    throw new RpcException(new Status(StatusCode.InvalidArgument,
                        $"unknown action '{request.Type}' (known: {string.Join(", ", Actions.Select(a => a.Type))})"));
            }
        });

    private async Task ExportPcap(string body, IAsyncStreamWriter<FlightResult> responseStream, ServerCallContext context)
    {
        var token = _auth.Require(context, Scopes.Read);
        if (!token.Has(Scopes.PayloadsRead))
            throw _auth.Deny(context, StatusCode.PermissionDenied, $"token '{token.Name}' lacks the '{Scopes.PayloadsRead}' scope that packet export needs", token);
        var request = ReadExportRequest(body);
        if (!token.AllNamespaces)
        {
            bool allowed = request.ConnectionId is { } id
                ? await AnyRow($"connections where connection={id}", token, context)
                : request.Pod is not null && request.Namespace is not null && token.Namespaces!.Contains(request.Namespace);
            if (!allowed)
                throw _auth.Deny(context, StatusCode.PermissionDenied, $"token '{token.Name}' may only export connections or pods of its namespaces", token);
        }
        // Streamed: frames go out in results as the store reads them; the server's limit caps the file size.
        request = request with { MaxBytes = Math.Min(request.MaxBytes ?? long.MaxValue, _maxExportBytes) };
        var results = new FlightResultStream(responseStream, PcapChunkBytes);
        PcapExportSummary summary;
        try
        {
            summary = await _store.Local.ExportPcapAsync(request, results, context.CancellationToken);
        }
        catch (PcapExportLimitException e)
        {
            _log.LogWarning("export.pcap by {Token} stopped at its limit after {Bytes} bytes: {Message}", token.Name, results.BytesSent, e.Message);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, e.Message));
        }
        _log.LogInformation("export.pcap by {Token}: {Frames} frames, {Bytes} bytes ({Format}) in {Results} results", token.Name, summary.Frames, summary.Bytes, summary.Format, results.Results);
        if (summary.Warnings.Count > 0) _log.LogWarning("export.pcap warnings: {Warnings}", string.Join("; ", summary.Warnings));
        // The summary rides in a trailer: stock clients concatenate the results and ignore it.
        context.ResponseTrailers.Add(PcapSummaryTrailer, PcapSummaryJson.ToBytes(summary));
    }

    /// <summary>Binary trailer of <c>export.pcap</c>: the export's summary as UTF-8 JSON (frames, bytes, format, link_types, warnings).</summary>
    public const string PcapSummaryTrailer = "trafficstore-export-summary-bin";

    private static PcapExportRequest ReadExportRequest(string body)
    {
        JsonObject o;
        try { o = JsonNode.Parse(body) as JsonObject ?? throw new QueryException("the export.pcap body must be a JSON object"); }
        catch (JsonException e) { throw new QueryException("the export.pcap body is not valid JSON: " + e.Message); }
        long now = NowNs(TimeProvider.System);
        var request = new PcapExportRequest();
        foreach (var (key, value) in o)
        {
            request = key switch
            {
                "connection_id" => request with { ConnectionId = ReadLong(value, key) },
                "pod" => request with { Pod = ReadString(value, key) },
                "namespace" => request with { Namespace = ReadString(value, key) },
                "from" => request with { FromNs = ReadTime(value, key, now) },
                "to" => request with { ToNs = ReadTime(value, key, now) },
                "format" => request with { Format = ReadFormat(value) },
                "max_bytes" => request with { MaxBytes = ReadLong(value, key) is >= 0 and var m ? m : throw new QueryException("\"max_bytes\" must not be negative") },
                _ => throw new QueryException($"unknown export.pcap key '{key}' (connection_id, pod, namespace, from, to, format, max_bytes)"),
            };
        }
        if (request.ConnectionId is not null && request.Pod is not null)
            throw new QueryException("export.pcap takes either connection_id or pod, not both");
        if (request.ConnectionId is null && request.Pod is null && request.FromNs is null && request.ToNs is null)
            throw new QueryException("export.pcap needs connection_id, pod, or a window (from/to)");
        return request;
    }

    private static PcapExportFormat ReadFormat(JsonNode? value) => ReadString(value, "format") switch
    {
        "auto" => PcapExportFormat.Auto,
        "pcap" => PcapExportFormat.Pcap,
        "pcapng" => PcapExportFormat.PcapNg,
        var other => throw new QueryException($"unknown export.pcap format '{other}' (auto, pcap, pcapng)"),
    };

    private async Task GetPayload(string body, IAsyncStreamWriter<FlightResult> responseStream, ServerCallContext context)
    {
        var token = _auth.Require(context, Scopes.Read);
        long exchangeId;
        try
        {
            var o = JsonNode.Parse(body) as JsonObject ?? throw new QueryException("the payload.get body must be a JSON object {\"exchange_id\": N}");
            foreach (var (key, _) in o)
                if (key != "exchange_id") throw new QueryException($"unknown payload.get key '{key}' (exchange_id)");
            exchangeId = ReadLong(o["exchange_id"], "exchange_id");
        }
        catch (JsonException e) { throw new QueryException("the payload.get body is not valid JSON: " + e.Message); }

        if (!token.AllNamespaces && !await AnyRow($"http where exchange_id={exchangeId}", token, context))
            throw _auth.Deny(context, StatusCode.NotFound, $"exchange {exchangeId} is not in the namespaces of token '{token.Name}'", token);
        var messages = await _store.Local.GetPayloadAsync(exchangeId, context.CancellationToken);
        if (messages.Count == 0) throw new RpcException(new Status(StatusCode.NotFound, $"no stored payload for exchange {exchangeId}"));
        bool full = token.Has(Scopes.PayloadsRead);
        var array = new JsonArray();
        foreach (var m in messages)
        {
            array.Add(new JsonObject
            {
                ["exchange_id"] = m.ExchangeId,
                ["connection_id"] = m.ConnectionId,
                ["direction"] = m.Direction,
                ["kind"] = m.Kind,
                ["timestamp_ns"] = m.TimestampNs,
                ["headers"] = full ? m.Headers : Redactor.RedactHeaders(m.Headers),
                ["body"] = full ? Convert.ToBase64String(m.Body.Span) : null,
                ["decoded_body"] = full && m.DecodedBody is { } d ? Convert.ToBase64String(d.Span) : null,
                ["body_length"] = m.Body.Length,
                ["truncated"] = m.Truncated,
                ["redacted"] = !full,
            });
        }
        await WriteJson(responseStream, array);
    }

    // ------------------------------------------------------------------ helpers

    private async Task<bool> AnyRow(string text, AccessToken token, ServerCallContext context)
    {
        var q = Scope(Parse(text) with { Limit = 1, Select = null }, token, context);
        var r = await _store.Local.QueryAsync(q, context.CancellationToken);
        await foreach (var b in r.Batches.WithCancellation(context.CancellationToken))
            if (b.Length > 0) return true;
        return false;
    }

    private TrafficQuery QueryOf(FlightDescriptor d)
    {
        if (d.Type == FlightDescriptorType.Path)
        {
            var paths = d.Paths.ToList();
            if (paths.Count != 1) throw new QueryException($"a path descriptor names one table, got {paths.Count} path elements");
            RequireTable(paths[0]);
            return new TrafficQuery { Table = paths[0] };
        }
        return Parse(DecodeUtf8(d.Command, "command"));
    }

    private TrafficQuery Parse(string text)
    {
        var q = QueryRules.CheckShape(QueryText.Parse(text, NowNs(_clock)));
        RequireTable(q.Table);
        return q;
    }

    private void RequireTable(string table)
    {
        if (!_store.Engine.TableNames.Contains(table, StringComparer.Ordinal))
            throw new RpcException(new Status(StatusCode.NotFound, $"unknown table '{table}' (tables: {string.Join(", ", _store.Engine.TableNames)})"));
    }

    /// <summary>Adds the token's namespace filter; a limited token cannot read tables without namespaces.</summary>
    private TrafficQuery Scope(TrafficQuery q, AccessToken token, ServerCallContext context)
    {
        if (token.AllNamespaces) return q;
        // Rows with both ends' namespaces: either end in the token's list. Raw frames carry only their
        // connection's retention namespace (owner_namespace): the frames of connections owned by the list.
        string? field = NamespaceField(_store.Engine.QuerySchema(new QuerySpec(q.Table)));
        if (field is null)
            throw _auth.Deny(context, StatusCode.PermissionDenied, $"token '{token.Name}' is limited to namespaces and table '{q.Table}' has no namespace column", token);
        var filter = new QueryFilter(field, StoreFilterOp.In, token.Namespaces!.Select(QueryValue.Of).ToList());
        return q with { Filters = [.. q.Filters, filter] };
    }

    /// <summary>The query as the caller wrote it (without the token's scope filter), narrowed in time.</summary>
    private static TrafficQuery Unscoped(TrafficQuery narrowed, TrafficQuery scoped, AccessToken token) =>
        token.AllNamespaces ? narrowed : narrowed with { Filters = scoped.Filters.Take(scoped.Filters.Count - 1).ToList() };

    private static string? NamespaceField(Schema schema) =>
        schema.GetFieldIndex("client_namespace") >= 0 && schema.GetFieldIndex("server_namespace") >= 0 ? "namespace"
        : schema.GetFieldIndex("owner_namespace") >= 0 ? "owner_namespace"
        : null;

    private static string DecodeUtf8(ByteString bytes, string what)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.Span); }
        catch (DecoderFallbackException) { throw new QueryException($"the {what} is not UTF-8 text (expected a query in the text or JSON form)"); }
    }

    /// <summary>Splits a batch so that each slice stays under <see cref="MaxMessageBytes"/>.</summary>
    internal static IEnumerable<RecordBatch> Slices(RecordBatch batch)
    {
        long bytes = ArrowBatchSize.Bytes(batch);
        if (bytes <= MaxMessageBytes || batch.Length <= 1)
        {
            yield return batch;
            yield break;
        }
        int parts = (int)Math.Min(batch.Length, (bytes + MaxMessageBytes - 1) / MaxMessageBytes * 2);
        int rowsPer = Math.Max(1, (batch.Length + parts - 1) / parts);
        for (int offset = 0; offset < batch.Length; offset += rowsPer)
        {
            int n = Math.Min(rowsPer, batch.Length - offset);
            var columns = Enumerable.Range(0, batch.ColumnCount).Select(c => ArrowArrayFactory.Slice(batch.Column(c), offset, n)).ToList();
            yield return new RecordBatch(batch.Schema, columns, n);
        }
    }

    private static async Task WriteJson(IAsyncStreamWriter<FlightResult> stream, JsonNode node) =>
        await stream.WriteAsync(new FlightResult(node.ToJsonString()));

    private static long NowNs(TimeProvider clock) => (clock.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    private static long ReadLong(JsonNode? value, string key) =>
        value is JsonValue v && v.TryGetValue<long>(out var l) ? l : throw new QueryException($"\"{key}\" must be an integer");

    private static string ReadString(JsonNode? value, string key) =>
        value is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0 ? s : throw new QueryException($"\"{key}\" must be a non-empty string");

    private static long ReadTime(JsonNode? value, string key, long now)
    {
        if (value is JsonValue v && v.TryGetValue<long>(out var ns)) return ns;
        return QueryTime.Parse(ReadString(value, key), now);
    }

    /// <summary>
    /// The refusal of a request that is not its method's protobuf message (<see cref="FlightRequests"/>): InvalidArgument,
    /// logged once (method, peer, size, parser's reason; never the bytes) and counted as a failed call.
    /// </summary>
    internal RpcException Refuse(ServerCallContext context, FlightRequests.Refusal refusal)
    {
        _metrics.FailedCall(context.Method, StatusCode.InvalidArgument);
        _log.LogInformation("{Method} -> {Code}: request of {Bytes} bytes from {Peer} is not a Flight {Message} message: {Reason}",
            context.Method, StatusCode.InvalidArgument, refusal.Bytes, context.Peer, refusal.Message, Cut(refusal.Reason));
        return new RpcException(new Status(StatusCode.InvalidArgument, Cut(refusal.Detail)));
    }

    private static string Cut(string text) => text.Length <= MaxStatusDetailChars ? text : text[..MaxStatusDetailChars] + $"... ({text.Length} chars)";

    /// <summary>Maps failures to Flight statuses; nothing escapes as an unhandled exception.</summary>
    private async Task Guard(ServerCallContext context, Func<Task> call)
    {
        try { await call(); }
        catch (Exception e) { throw Map(e, context); }
    }

    private async Task<T> Guard<T>(ServerCallContext context, Func<Task<T>> call)
    {
        try { return await call(); }
        catch (Exception e) { throw Map(e, context); }
    }

    private RpcException Map(Exception e, ServerCallContext context)
    {
        RpcException mapped = e switch
        {
            RpcException r => r,
            QueryException q => new RpcException(new Status(StatusCode.InvalidArgument, q.Message)),
            ArgumentException a => new RpcException(new Status(StatusCode.InvalidArgument, a.Message)),
            OperationCanceledException when context.CancellationToken.IsCancellationRequested => new RpcException(new Status(StatusCode.Cancelled, "call cancelled")),
            _ => new RpcException(new Status(StatusCode.Internal, $"internal error: {e.GetType().Name}: {e.Message}")),
        };
        // Messages may quote the input (an unknown table, a bad value): a 100 kB quote in the grpc-message
        // trailer would break the client's header limit (64 KiB) and arrive as Unavailable instead.
        if (mapped.Status.Detail.Length > MaxStatusDetailChars)
            mapped = new RpcException(new Status(mapped.StatusCode, mapped.Status.Detail[..MaxStatusDetailChars] + $"... ({mapped.Status.Detail.Length} chars)"), mapped.Trailers);
        if (mapped.StatusCode is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied))
            _metrics.FailedCall(context.Method, mapped.StatusCode);
        if (mapped.StatusCode == StatusCode.Internal) _log.LogError(e, "{Method} failed", context.Method);
        else _log.LogInformation("{Method} -> {Code}: {Message}", context.Method, mapped.StatusCode, mapped.Status.Detail);
        return mapped;
    }
}
