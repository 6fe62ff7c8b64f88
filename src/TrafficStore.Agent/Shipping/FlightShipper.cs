using System.Text.Json.Nodes;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Google.Protobuf;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Agent.Spool;
using TrafficStore.Store.Tables;

namespace TrafficStore.Agent.Shipping;

/// <summary>Counters of a <see cref="FlightShipper"/>.</summary>
/// <param name="MessageLimit">Largest DoPut message the shipper sends now: the configured bound, or lower once the server refused one as too large.</param>
public readonly record struct ShipperStatistics(long SentBatches, long SentRows, long Failures, long RejectedBatches, long RejectedRows,
    bool Connected, string? LastError, long MessageLimit);

/// <summary>
/// Sends the spool's batches, oldest first, to the server with Flight DoPut (the stock
/// <see cref="FlightClient"/>): one DoPut stream per run of batches of the same table, and a batch is
/// acknowledged in the spool only after the server's PutResult for it (the server sends it after
/// its WAL fsync). On any transport failure the shipper backs off (from the shortest delay again when the failed
/// stream had batches acknowledged: a flaky link is not a down server) and resends from the first
/// unacknowledged batch, so order holds. Each message names its batch in its app_metadata (the spool's
/// agent id, the batch's sequence number and the message's first row, <see cref="Identity"/>), and the server
/// stores a batch it already has only once: a batch whose PutResult was lost is sent again and acknowledged
/// again, not stored twice (docs/agent.md "Exactly once"). A batch the server rejects as invalid (InvalidArgument) would block the
/// spool forever; it is skipped and counted as rejected. Packets batches whose frames refer to payloads
/// rows (HTTP body bytes stored once, docs/agent.md) come after those rows in the spool; when the
/// payloads batch before them was rejected, those that refer to rows are rejected too (a stored frame
/// must never name a row that is not stored).
/// <para>
/// Message size: a spooled batch larger than the message bound is sent as row slices that fit, in the
/// same stream, and acknowledged once every slice was. The bound starts at the configured one; a server
/// whose gRPC receive limit is lower refuses a message with ResourceExhausted, and the shipper halves its
/// bound (down to <see cref="MinMessageBytes"/>) and resends at once, so it converges below the server's
/// limit instead of resending the same refused message forever. A single row larger than the bound can
/// never be sent: it is skipped and counted as rejected, with the reason in <see cref="ShipperStatistics.LastError"/>.
/// </para>
/// </summary>
public sealed class FlightShipper : IDisposable
{
    internal static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);
    /// <summary>The bound is never learned below this: a refusal of messages this small is not about their size.</summary>
    public const long MinMessageBytes = 64 << 10;
    /// <summary>How long a stopping shipper lets the batch in flight be acknowledged before aborting the call.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(5);

    private readonly DiskSpool _spool;
    private readonly Uri _server;
    private readonly Metadata _headers = new();
    private readonly int _batchesPerPut;
    private readonly TimeSpan _callTimeout;
    private long _messageLimit;
    // Serialized size of the last message written, to learn the server's limit from its refusal.
    private long _lastMessageBytes;
    private GrpcChannel? _channel;
    private FlightClient? _client;
    private long _sentBatches, _sentRows, _failures, _rejectedBatches, _rejectedRows;
    private volatile bool _connected;
    private volatile string? _lastError;
    // The last payloads batch met was rejected: packets batches referring to rows are rejected until the next one.
    private bool _payloadsRejected;
    // Table of the last batch acknowledged or rejected: a group's payloads may span several batches, and a
    // rejection among them must still hold for the packets batches after the last one.
    private string? _previousTable;
    // Batches the current (or last) DoPut stream got acknowledged: a failure after progress retries at the shortest backoff.
    private int _ackedInAttempt;

    /// <param name="maxMessageBytes">Largest DoPut message (one Arrow IPC batch) to send; larger batches go as row slices.</param>
    public FlightShipper(DiskSpool spool, Uri server, string? token, int batchesPerPut = 64, TimeSpan? callTimeout = null,
        long maxMessageBytes = DefaultMaxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, MinMessageBytes);
        _spool = spool ?? throw new ArgumentNullException(nameof(spool));
        _server = server ?? throw new ArgumentNullException(nameof(server));
        // A limit learned from this server before a restart (spool directory, PutLimitFile) still holds.
        _messageLimit = Math.Min(maxMessageBytes, Math.Max(MinMessageBytes, PutLimitFile.Load(spool.DirectoryPath, server, out string? problem) ?? long.MaxValue));
        PutLimitProblem = problem;
        if (!string.IsNullOrEmpty(token)) _headers.Add("Authorization", "Bearer " + token);
        _batchesPerPut = Math.Max(1, batchesPerPut);
        _callTimeout = callTimeout ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>Half the server's default gRPC receive limit (<c>TrafficServerOptions.MaxReceiveMessageBytes</c>, 64 MiB).</summary>
    public const long DefaultMaxMessageBytes = 32L << 20;

    /// <summary>
    /// Why the spool's learned message limit (<see cref="PutLimitFile"/>) was not used at start (unreadable or damaged:
    /// messages start at the default bound), or null. One line, for the agent's log.
    /// </summary>
    public string? PutLimitProblem { get; }

    /// <summary>The clock the back-off waits on: tests see the delays the shipper chose through it, not on a wall clock.</summary>
    internal TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Called (on the shipping task) after each batch the server acknowledged, in spool order.</summary>
    public Action<SpoolEntry>? Acknowledged { get; set; }

    public ShipperStatistics Statistics => new(Interlocked.Read(ref _sentBatches), Interlocked.Read(ref _sentRows), Interlocked.Read(ref _failures),
        Interlocked.Read(ref _rejectedBatches), Interlocked.Read(ref _rejectedRows), _connected, _lastError, Interlocked.Read(ref _messageLimit));

    /// <summary>
    /// Ships until <paramref name="ct"/> is cancelled. A stream in flight then ends after the batch being sent
    /// is acknowledged (within <see cref="StopGrace"/>): aborting it would leave a batch the server stored but
    /// whose PutResult never came, sent again by the drain that follows a stop, a duplicate on the server.
    /// </summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var abort = new CancellationTokenSource();
        using var graceOnStop = ct.Register(() => abort.CancelAfter(StopGrace));
        var backoff = MinBackoff;
        while (!ct.IsCancellationRequested)
        {
            if (!_spool.TryPeek(out _))
            {
                try { await _spool.WaitForAppendAsync(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                continue;
            }
            bool ok = await SendSomeAsync(abort.Token, stop: ct).ConfigureAwait(false);
            if (ok) { backoff = MinBackoff; continue; }
            if (_ackedInAttempt > 0) backoff = MinBackoff;      // a flaky link that moves the spool is not a down server
            try { await Task.Delay(backoff, Time, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    /// <summary>Ships until the spool is empty or <paramref name="timeout"/> passes; true when empty.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var backoff = MinBackoff;
        while (_spool.TryPeek(out _))
        {
            if (cts.IsCancellationRequested) return false;
            if (await SendSomeAsync(cts.Token, stop: default).ConfigureAwait(false)) { backoff = MinBackoff; continue; }
            if (_ackedInAttempt > 0) backoff = MinBackoff;
            try { await Task.Delay(backoff, Time, cts.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return false; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
        return true;
    }

    /// <summary>
    /// One DoPut stream: the oldest unacknowledged batch and the following ones of the same table.
    /// <paramref name="abort"/> cancels the call where it is; <paramref name="stop"/> ends the stream cleanly after the next acknowledgement.
    /// </summary>
    private async Task<bool> SendSomeAsync(CancellationToken abort, CancellationToken stop)
    {
        _ackedInAttempt = 0;
        if (!_spool.TryPeek(out var first)) return true;
        if (!TryDeserialize(first, out var firstBatch, out string? unreadable))
        {
            Reject(first, "unreadable spool record: " + unreadable);
            return true;
        }
        if (first.Table == TrafficTables.Payloads && _previousTable != TrafficTables.Payloads) _payloadsRejected = false;
        if (RefersToRejectedPayloads(first, firstBatch))
        {
            Reject(first, "its frames refer to payloads rows of a rejected batch");
            return true;
        }
        var entry = first;
        try
        {
            var client = Client();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abort);
            timeout.CancelAfter(_callTimeout);
            // The schema goes with the first message, not ahead of it: a refusal of the descriptor alone (missing scope, no
            // such table) then meets a write WriteOrThrowCallStatusAsync guards instead of failing StartPut as Cancelled.
            var call = client.StartPut(FlightDescriptor.CreatePathDescriptor(first.Table), _headers, DateTime.UtcNow + _callTimeout, timeout.Token);
            using (call)
            {
                var batch = firstBatch;
                for (int sent = 0; ; sent++)
                {
                    var parts = Fit(entry, batch, out var oversized);
                    foreach (var (part, bytes, firstRow) in parts)
                    {
                        _lastMessageBytes = bytes;
                        await WriteOrThrowCallStatusAsync(entry.Sequence > 0
                                ? () => call.RequestStream.WriteAsync(part, Identity(_spool.AgentId, entry.Sequence, firstRow))
                                : () => call.RequestStream.WriteAsync(part),     // spooled by an older agent: no identity
                            call.ResponseStream, timeout.Token).ConfigureAwait(false);
                        if (!await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false))
                            throw new RpcException(new Status(StatusCode.Unavailable, "DoPut ended without a PutResult"));
                    }
                    if (oversized.Rows > 0) SkipOversized(entry, oversized);
                    _spool.Acknowledge(entry);
                    _ackedInAttempt++;
                    _previousTable = entry.Table;
                    Acknowledged?.Invoke(entry);
                    Interlocked.Increment(ref _sentBatches);
                    Interlocked.Add(ref _sentRows, entry.Rows - oversized.Rows);
                    _connected = true;
                    if (sent + 1 >= _batchesPerPut || stop.IsCancellationRequested || !_spool.TryPeek(out var next) || next.Table != first.Table) break;
                    // An unreadable record ends this stream; the next one starts with it and rejects it.
                    if (!TryDeserialize(next, out var nextBatch, out _)) break;
                    if (!SameSchema(nextBatch.Schema, firstBatch.Schema) || RefersToRejectedPayloads(next, nextBatch)) break;
                    entry = next;
                    batch = nextBatch;
                }
                await call.RequestStream.CompleteAsync().ConfigureAwait(false);
                while (await call.ResponseStream.MoveNext(timeout.Token).ConfigureAwait(false)) { }
            }
            return true;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            // The server will never take this batch (schema mismatch, unknown table): skip it, counted.
            Reject(entry, e.Status.Detail);
            return true;
        }
        // A refusal the server names (its trafficstore-refusal trailer, e.g. the store keeps marks for as many agents as it
        // may) is not about the message size: it is retried with backoff below, the bound stays.
        catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && e.Trailers.Get("trafficstore-refusal") is null
                                     && Interlocked.Read(ref _messageLimit) > MinMessageBytes)
        {
            // The server's receive limit is below our bound: resending the same message would be refused
            // forever. Halve the bound below the refused message and resend now, cut smaller.
            long limit = Math.Max(MinMessageBytes, Math.Min(Interlocked.Read(ref _messageLimit), _lastMessageBytes) / 2);
            Interlocked.Exchange(ref _messageLimit, limit);
            Interlocked.Increment(ref _failures);
            _lastError = $"ResourceExhausted: {e.Status.Detail} (a {_lastMessageBytes}-byte message for '{entry.Table}'); messages now cut at {limit} bytes";
            try { PutLimitFile.Save(_spool.DirectoryPath, _server, limit); }   // a restarted agent starts below it
            catch (Exception io) when (io is IOException or UnauthorizedAccessException) { _lastError += $"; not kept in the spool: {io.Message}"; }
            return true;
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Our own stop (the agent shutting down) is not a failure of the server.
            if (abort.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled }) return false;
            Interlocked.Increment(ref _failures);
            _connected = false;
            _lastError = e is RpcException r ? $"{r.StatusCode}: {r.Status.Detail}" : e.Message;
            ResetChannel();
            return false;
        }
    }

    /// <summary>
    /// Writes one message of a DoPut stream. When the server ends the call while the message is still being written (it
    /// refuses it: a message past its receive limit, an agent past its delivery-source limit, a missing scope), grpc-dotnet
    /// fails the write as Cancelled unless it has already read the call's status. That status comes with the response, so
    /// it is read there and thrown instead: under load the refusal was otherwise taken for a transport failure, the bound
    /// was not halved, and the same message went again after a back-off until a refusal happened to be seen as such.
    /// A Cancelled write whose response ends without an error (or our own abort) stays what it is.
    /// </summary>
    internal static async Task WriteOrThrowCallStatusAsync<T>(Func<Task> write, IAsyncStreamReader<T> response, CancellationToken ct)
    {
        try
        {
            await write().ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && !ct.IsCancellationRequested)
        {
            // Every earlier message's PutResult was read before this write: anything left ends with the call's status.
            while (await response.MoveNext(ct).ConfigureAwait(false)) { }
            throw;
        }
    }

    /// <summary>
    /// The DoPut app_metadata naming a message: the agent, the spooled batch, and where the message's rows start in
    /// it. The server stores each row of an agent's batch once (docs/server.md "Exactly-once DoPut"):
    /// <c>{"agent_id":"…","batch_seq":N,"first_row":R}</c>.
    /// </summary>
    public static ByteString Identity(string agentId, long batchSeq, long firstRow) =>
        ByteString.CopyFromUtf8(new JsonObject { ["agent_id"] = agentId, ["batch_seq"] = batchSeq, ["first_row"] = firstRow }.ToJsonString());

    /// <summary>
    /// The batch as messages of at most the current bound, each with its serialized size and its first row in the
    /// batch: the whole batch when it fits, else row slices (halved until they fit, order kept). Rows that alone
    /// exceed the bound are left out.
    /// </summary>
    private List<(RecordBatch Batch, long Bytes, int FirstRow)> Fit(SpoolEntry entry, RecordBatch batch, out (int Rows, long LargestBytes) oversized)
    {
        var parts = new List<(RecordBatch, long, int)>();
        oversized = default;
        long limit = Interlocked.Read(ref _messageLimit);
        if (entry.Data.Length <= limit) parts.Add((batch, entry.Data.Length, 0));
        else Cut(batch, 0, entry.Data.Length, limit, parts, ref oversized);
        return parts;
    }

    private static void Cut(RecordBatch batch, int firstRow, long bytes, long limit, List<(RecordBatch, long, int)> parts, ref (int Rows, long LargestBytes) oversized)
    {
        if (bytes <= limit) { parts.Add((batch, bytes, firstRow)); return; }
        if (batch.Length <= 1)
        {
            oversized = (oversized.Rows + batch.Length, Math.Max(oversized.LargestBytes, bytes));
            return;
        }
        int half = batch.Length / 2;
        var first = batch.Slice(0, half);
        var second = batch.Slice(half, batch.Length - half);
        Cut(first, firstRow, ArrowIpc.SerializedLength(first), limit, parts, ref oversized);
        Cut(second, firstRow + half, ArrowIpc.SerializedLength(second), limit, parts, ref oversized);
    }

    /// <summary>Rows no message may carry: counted as rejected (the rest of their batch was shipped).</summary>
    private void SkipOversized(SpoolEntry entry, (int Rows, long LargestBytes) oversized)
    {
        // Frames after them may name a skipped payloads row: the rejected-payloads rule applies.
        if (entry.Table == TrafficTables.Payloads) _payloadsRejected = true;
        Interlocked.Increment(ref _rejectedBatches);
        Interlocked.Add(ref _rejectedRows, oversized.Rows);
        _lastError = $"{oversized.Rows} row(s) of '{entry.Table}' skipped: the largest alone is {oversized.LargestBytes} bytes, which exceeds " +
            $"the DoPut message limit of {Interlocked.Read(ref _messageLimit)} bytes";
    }

    private bool RefersToRejectedPayloads(SpoolEntry entry, RecordBatch batch)
    {
        if (!_payloadsRejected || entry.Table != TrafficTables.Packets) return false;
        int column = batch.Schema.GetFieldIndex("body_exchange_id");
        return column >= 0 && batch.Column(column).NullCount < batch.Length;
    }

    private void Reject(SpoolEntry entry, string why)
    {
        if (entry.Table == TrafficTables.Payloads) _payloadsRejected = true;
        Interlocked.Increment(ref _rejectedBatches);
        Interlocked.Add(ref _rejectedRows, entry.Rows);
        // Name the column when the server's message does: "has no column 'body_decoded_len'" is an agent newer than its server
        // (servers are upgraded first, docs/agent.md "Upgrades"), not a damaged batch.
        var column = System.Text.RegularExpressions.Regex.Match(why, "column '([^']+)'");
        _lastError = !column.Success ? $"batch for '{entry.Table}' rejected: {why}"
            : why.Contains("has no column", StringComparison.Ordinal)
                ? $"batch for '{entry.Table}' rejected: the server has no column '{column.Groups[1].Value}' (a server older than this agent: upgrade servers first, docs/agent.md \"Upgrades\"): {why}"
                : $"batch for '{entry.Table}' rejected on column '{column.Groups[1].Value}': {why}";
        _spool.Acknowledge(entry);
        _previousTable = entry.Table;
    }

    /// <summary>
    /// The spooled batch, or false with why it cannot be read: Arrow's reader throws whatever it meets on bytes that
    /// are not an IPC stream (InvalidOperationException, IndexOutOfRangeException, ...), and a record that cannot be
    /// read must be rejected, not end the shipping loop.
    /// </summary>
    private static bool TryDeserialize(SpoolEntry entry, out RecordBatch batch, out string? error)
    {
        try
        {
            batch = ArrowIpc.Deserialize(entry.Data);
            error = null;
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            batch = null!;
            error = $"{e.GetType().Name}: {e.Message}";
            return false;
        }
    }

    private static bool SameSchema(Schema a, Schema b)
    {
        if (a.FieldsList.Count != b.FieldsList.Count) return false;
        for (int i = 0; i < a.FieldsList.Count; i++)
            if (a.FieldsList[i].Name != b.FieldsList[i].Name || a.FieldsList[i].DataType.TypeId != b.FieldsList[i].DataType.TypeId) return false;
        return true;
    }

    private FlightClient Client()
    {
        if (_client is not null) return _client;
        _channel = GrpcChannel.ForAddress(_server, new GrpcChannelOptions { MaxSendMessageSize = null });
        _client = new FlightClient(_channel);
        return _client;
    }

    private void ResetChannel()
    {
        _client = null;
        _channel?.Dispose();
        _channel = null;
    }

    public void Dispose() => ResetChannel();
}
