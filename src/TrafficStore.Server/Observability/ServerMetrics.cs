using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Grpc.Core;
using TrafficStore.Engine;

using TrafficStore.Store.Observability;

namespace TrafficStore.Server.Observability;

/// <summary>
/// The server's counters and the query latency histogram, rendered in the Prometheus text
/// exposition format (version 0.0.4) by <see cref="Render"/> for <c>/metrics</c>. Store figures
/// (size, rows, retention deletions) are read from the engine at scrape time.
/// </summary>
public sealed class ServerMetrics
{
    // Seconds; Prometheus histograms are cumulative per upper bound.
    private static readonly double[] LatencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _latencyBuckets = new long[LatencyBounds.Length + 1];
    private long _latencyCount;
    private long _latencySumMicros;
    private long _ingestRows;
    private long _ingestBatches;
    private long _queryRows;
    private long _droppedInput;
    private long _duplicateRows, _duplicateBatches;
    private long _refusedSources;
    private readonly ConcurrentDictionary<(string Method, StatusCode Code), long> _denied = new();
    private readonly ConcurrentDictionary<(string Method, StatusCode Code), long> _failed = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    public void DeniedCalls(string method, StatusCode code) => _denied.AddOrUpdate((method, code), 1, (_, n) => n + 1);

    public void FailedCall(string method, StatusCode code) => _failed.AddOrUpdate((method, code), 1, (_, n) => n + 1);

    public void Ingested(long rows)
    {
        Interlocked.Add(ref _ingestRows, rows);
        Interlocked.Increment(ref _ingestBatches);
    }

    /// <summary>Rows of a DoPut message the store already had (an agent resent a batch whose PutResult it lost): skipped.</summary>
    public void Duplicate(long rows)
    {
        Interlocked.Add(ref _duplicateRows, rows);
        Interlocked.Increment(ref _duplicateBatches);
    }

    /// <summary>A DoPut message of a new agent refused: the store keeps delivery marks for as many agents as it may.</summary>
    public void RefusedDeliverySource() => Interlocked.Increment(ref _refusedSources);

    public long RefusedDeliverySourcesTotal => Interlocked.Read(ref _refusedSources);

    /// <summary>The store's delivery marks (agents it keeps a mark for, marks expired since open), read at scrape time.</summary>
    public Func<(int Sources, long Expired)>? DeliveryMarks { get; set; }

    public long DuplicateRowsTotal => Interlocked.Read(ref _duplicateRows);
    public long DuplicateBatchesTotal => Interlocked.Read(ref _duplicateBatches);

    /// <summary>Input a node agent sent that was rejected (invalid batch) and therefore not stored.</summary>
    public void Dropped(long rows) => Interlocked.Add(ref _droppedInput, rows);

    public void QueryCompleted(TimeSpan elapsed, long rows)
    {
        Interlocked.Add(ref _queryRows, rows);
        double s = elapsed.TotalSeconds;
        int i = 0;
        while (i < LatencyBounds.Length && s > LatencyBounds[i]) i++;
        Interlocked.Increment(ref _latencyBuckets[i]);
        Interlocked.Increment(ref _latencyCount);
        Interlocked.Add(ref _latencySumMicros, (long)(elapsed.TotalMilliseconds * 1000));
    }

    public long DeniedTotal => _denied.Values.Sum();
    public long IngestRowsTotal => Interlocked.Read(ref _ingestRows);
    public long QueryCount => Interlocked.Read(ref _latencyCount);

    public string Render(EngineStats? stats, StoreHealth? health = null)
    {
        var text = new PrometheusTextWriter();
        void Metric(string name, string type, string help) => text.Metric(name, type, help);
        void Line(string name, double value, string labels = "") => text.Sample(name, value, labels);

        double uptime = Math.Max(1e-3, (DateTimeOffset.UtcNow - _started).TotalSeconds);
        text.Counter("trafficstore_ingest_rows_total", "Rows accepted through DoPut and acknowledged as durable.", IngestRowsTotal);
        text.Counter("trafficstore_ingest_batches_total", "Record batches accepted through DoPut.", Interlocked.Read(ref _ingestBatches));
        text.Gauge("trafficstore_ingest_rows_per_second", "Average DoPut ingest rate since the server started.", IngestRowsTotal / uptime);
        text.Counter("trafficstore_dropped_input_rows_total", "Rows sent by clients that were rejected and not stored.", Interlocked.Read(ref _droppedInput));
        text.Counter("trafficstore_ingest_duplicate_batches_total", "DoPut messages of an agent batch the store already had (resent after a lost PutResult); skipped and acknowledged again.", DuplicateBatchesTotal);
        text.Counter("trafficstore_ingest_duplicate_rows_total", "Rows of those messages that were skipped (not stored twice).", DuplicateRowsTotal);
        text.Counter("trafficstore_ingest_refused_agents_total", "DoPut messages of a new agent refused (ResourceExhausted): the store keeps delivery marks for StoreOptions.MaxDeliverySources agents.", RefusedDeliverySourcesTotal);
        if (DeliveryMarks?.Invoke() is var (sources, expired))
        {
            text.Gauge("trafficstore_delivery_marks", "Agents the store keeps an exactly-once delivery mark for.", sources);
            text.Counter("trafficstore_delivery_marks_expired_total", "Delivery marks dropped since the store opened because their agent was idle longer than StoreOptions.DeliveryMarkMaxIdle.", expired);
        }

        Metric("trafficstore_query_duration_seconds", "histogram", "Time from the start of a DoGet to its last batch.");
        long cumulative = 0;
        for (int i = 0; i < LatencyBounds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _latencyBuckets[i]);
            Line("trafficstore_query_duration_seconds_bucket", cumulative, $"le=\"{LatencyBounds[i].ToString("R", CultureInfo.InvariantCulture)}\"");
        }
        cumulative += Interlocked.Read(ref _latencyBuckets[^1]);
        Line("trafficstore_query_duration_seconds_bucket", cumulative, "le=\"+Inf\"");
        Line("trafficstore_query_duration_seconds_sum", Interlocked.Read(ref _latencySumMicros) / 1e6);
        Line("trafficstore_query_duration_seconds_count", QueryCount);
        text.Counter("trafficstore_query_rows_total", "Rows returned by DoGet.", Interlocked.Read(ref _queryRows));

        Metric("trafficstore_denied_calls_total", "counter", "Calls refused for a missing/unknown token, a missing scope or a namespace outside the token.");
        if (_denied.IsEmpty) Line("trafficstore_denied_calls_total", 0);
        foreach (var ((method, code), n) in _denied.OrderBy(p => p.Key.Method))
            Line("trafficstore_denied_calls_total", n, $"method=\"{method}\",code=\"{code}\"");
        Metric("trafficstore_failed_calls_total", "counter", "Calls answered with an error status other than a denial.");
        if (_failed.IsEmpty) Line("trafficstore_failed_calls_total", 0);
        foreach (var ((method, code), n) in _failed.OrderBy(p => p.Key.Method))
            Line("trafficstore_failed_calls_total", n, $"method=\"{method}\",code=\"{code}\"");

        if (stats is not null)
        {
            Metric("trafficstore_store_bytes", "gauge", "Bytes of sealed segments on disk, per table.");
            foreach (var t in stats.Tables.Values.OrderBy(t => t.Table))
                Line("trafficstore_store_bytes", t.BytesOnDisk, $"table=\"{t.Table}\"");
            Metric("trafficstore_store_rows", "gauge", "Rows stored (sealed and unsealed), per table.");
            foreach (var t in stats.Tables.Values.OrderBy(t => t.Table))
                Line("trafficstore_store_rows", t.Rows, $"table=\"{t.Table}\"");
            text.Gauge("trafficstore_wal_bytes", "Bytes of write-ahead log not yet sealed.", stats.WalBytes);
            var cache = stats.ChunkCache;
            text.Gauge("trafficstore_chunk_cache_bytes", "Bytes of decoded column chunks held by the query cache (StoreOptions.ChunkCacheBytes; 0 when off).", cache.Bytes);
            text.Gauge("trafficstore_chunk_cache_capacity_bytes", "Capacity of the decoded-chunk cache (0 = off).", cache.CapacityBytes);
            text.Counter("trafficstore_chunk_cache_hits_total", "Column chunks served from the decoded-chunk cache.", cache.Hits);
            text.Counter("trafficstore_chunk_cache_misses_total", "Column chunks read from disk (decompressed and CRC-checked) with the cache on.", cache.Misses);
            text.Counter("trafficstore_chunk_cache_evictions_total", "Chunks evicted to stay within the cache capacity.", cache.Evictions);
            text.Counter("trafficstore_retention_deleted_segments_total", "Segments deleted by retention.", stats.RetentionDeletedSegments);
            text.Counter("trafficstore_retention_deleted_rows_total", "Rows deleted by retention.", stats.RetentionDeletedRows);
            text.Counter("trafficstore_retention_deleted_bytes_total", "Bytes freed by retention.", stats.RetentionDeletedBytes);
            text.Gauge("trafficstore_quarantined_segments", "Segments that failed a checksum and are not served.", stats.Quarantined.Count);
        }
        if (health is not null)
            text.Gauge("trafficstore_writes_refused", "1 while the store refuses every write because its write-ahead log failed (until it is reopened), else 0.", health.WriteFailure is null ? 0 : 1);
        return text.ToString();
    }
}
