using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Bounds of a streamed pcap export (<see cref="PcapExporter"/>). Memory held by one export is about
/// <see cref="ChunkBytes"/> + <see cref="ReorderBytes"/> + one record batch of at most <see cref="BatchRows"/>
/// frames, plus <see cref="BodyCacheBytes"/> of payload bodies and those one batch refers to, whatever the size of the result.
/// </summary>
public sealed record PcapExportOptions
{
    /// <summary>Bytes staged before a write to the output (a file write, or one Flight result).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Frames per record batch read from the store (stored frames are small; spliced ones can be 64 KiB each).</summary>
    public int BatchRows { get; init; } = 8192;

    /// <summary>Frames held back to restore capture order where timestamps step back (<see cref="CaptureOrderBuffer"/>).</summary>
    public int ReorderFrames { get; init; } = 4096;

    /// <summary>Bytes of record batches held back for the same, beyond the batch being read.</summary>
    public long ReorderBytes { get; init; } = 16L << 20;

    /// <summary>
    /// Bytes of payload bodies kept between batches to put elided frame bytes back (<c>FrameBodySplicer</c>): bodies
    /// leave when their last frame passes; this bounds those still open (the least recently used leave and are read again if needed).
    /// Also used by packets queries of a <see cref="LocalTrafficClient"/>.
    /// </summary>
    public long BodyCacheBytes { get; init; } = FrameBodySplicer.DefaultCacheBytes;
}

/// <summary>
/// <c>export pcap</c>: reads the selected frames from the packets table in record batches, one capture after
/// the other, puts each capture's frames back in capture order (<see cref="CaptureOrderBuffer"/>) and writes
/// them to the output as they come, in chunks (<see cref="CaptureFileWriter"/>): classic pcap or pcapng.
/// Frames come out whole through the store's own reader (<c>FrameBodySplicer</c>), however they are stored.
/// </summary>
internal sealed class PcapExporter(TrafficStoreEngine engine, PcapExportOptions options)
{
    public async Task<PcapExportSummary> ExportAsync(PcapExportRequest request, Stream output, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(output);
        var warnings = new List<string>();
        var spec = await SelectAsync(request, warnings, ct).ConfigureAwait(false);

        // First the captures and link types of the selection (two small columns): a classic pcap file has
        // one link type, and each capture is read on its own, in turn.
        var (captures, linkTypes) = spec is null ? (new SortedSet<long>(), new SortedSet<int>()) : await SurveyAsync(spec, ct).ConfigureAwait(false);
        if (request.Format == PcapExportFormat.Pcap && linkTypes.Count > 1)
            throw new QueryException($"the frames have several link types ({string.Join(", ", linkTypes)}) and a pcap file holds one: " +
                                     "export as pcapng (--format pcapng, or \"format\":\"pcapng\") or narrow the selection");
        var format = request.Format == PcapExportFormat.PcapNg || (request.Format == PcapExportFormat.Auto && linkTypes.Count > 1)
            ? PcapExportFormat.PcapNg
            : PcapExportFormat.Pcap;
        CaptureFileWriter writer = format == PcapExportFormat.PcapNg
            ? new PcapNgFileWriter(options.ChunkBytes, request.MaxBytes)
            : new PcapFileWriter(linkTypes.Count > 0 ? linkTypes.Min : (int)global::TrafficStore.Ingest.Capture.LinkType.Ethernet, options.ChunkBytes, request.MaxBytes);

        var diag = new QueryDiagnostics();
        var splicer = new FrameBodySplicer(engine, options.BodyCacheBytes);
        var batches = spec is null ? Empty() : Frames(spec, captures, diag, splicer, ct);
        var outcome = await WriteAsync(batches, writer, output, options, ct).ConfigureAwait(false);

        warnings.AddRange(diag.Warnings.Select(w => w.Message));
        if (splicer.Warning is { } w) warnings.Add(w);
        if (outcome.OtherLinkType > 0)
            warnings.Add($"{outcome.OtherLinkType} frames of another link type than {((PcapFileWriter)writer).LinkType} appeared while exporting (ingest in progress) and were left out: a pcap file has one link type");
        if (outcome.OutOfOrder > 0)
            warnings.Add($"{outcome.OutOfOrder} frames are out of capture order: their timestamps step back further than the reorder window ({options.ReorderFrames} frames)");
        var types = writer is PcapNgFileWriter ng ? ng.LinkTypes.Distinct().Order().ToList() : linkTypes.ToList();
        if (types.Count == 0 && writer is PcapFileWriter classic) types.Add(classic.LinkType);
        return new PcapExportSummary(writer.Frames, writer.BytesWritten, types.Count == 1 ? types[0] : -1, warnings)
        {
            Format = format,
            LinkTypes = types,
        };
    }

    /// <summary>Counts of what <see cref="WriteAsync"/> could not write in place.</summary>
    internal readonly record struct WriteOutcome(long OtherLinkType, long OutOfOrder);

    /// <summary>
    /// Writes the frames of <paramref name="batches"/> (packets rows with whole <c>data</c>, about in time order) as they
    /// arrive: each batch enters the reorder window and whatever leaves it is staged and sent in chunks.
    /// Throws <see cref="PcapExportLimitException"/> when the file would exceed the writer's limit.
    /// </summary>
    internal static async Task<WriteOutcome> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CaptureFileWriter writer, Stream output,
        PcapExportOptions options, CancellationToken ct)
    {
        var order = new CaptureOrderBuffer(options.ReorderFrames, options.ReorderBytes);
        long otherLinkType = 0;
        await foreach (var batch in batches.WithCancellation(ct).ConfigureAwait(false))
        {
            order.Add(batch);
            while (order.NeedsTake) otherLinkType += await TakeOneAsync(order, writer, output, ct).ConfigureAwait(false);
        }
        while (order.BufferedFrames > 0) otherLinkType += await TakeOneAsync(order, writer, output, ct).ConfigureAwait(false);
        if (writer.Pending.Length > 0) await output.WriteAsync(writer.Pending, ct).ConfigureAwait(false);
        writer.Clear();
        await output.FlushAsync(ct).ConfigureAwait(false);
        return new WriteOutcome(otherLinkType, order.OutOfOrder);
    }

    /// <summary>Writes the next frame in capture order; 1 when it had another link type than the file's (left out).</summary>
    private static async ValueTask<int> TakeOneAsync(CaptureOrderBuffer order, CaptureFileWriter writer, Stream output, CancellationToken ct)
    {
        order.TryTake(out var batch, out int row);
        while (true)
        {
            switch (writer.TryWriteFrame(batch[row]))
            {
                case CaptureWriteStatus.Written:
                    return 0;
                case CaptureWriteStatus.OtherLinkType:
                    return 1;
                case CaptureWriteStatus.ChunkFull:
                    await output.WriteAsync(writer.Pending, ct).ConfigureAwait(false);
                    writer.Clear();
                    break;
                case CaptureWriteStatus.LimitReached:
                    throw new PcapExportLimitException(
                        $"the export would exceed its limit of {writer.MaxBytes} bytes (after {writer.Frames} frames, {writer.BytesWritten} bytes): " +
                        "narrow it (a connection, a pod, a shorter window) or raise the limit; the file written so far is incomplete");
            }
        }
    }

    /// <summary>The packets query of the request; null when it selects nothing (a pod without connections).</summary>
    private async Task<QuerySpec?> SelectAsync(PcapExportRequest request, List<string> warnings, CancellationToken ct)
    {
        var filters = new List<ColumnFilter>();
        if (request.ConnectionId is long id)
        {
            filters.Add(ColumnFilter.Eq("connection_id", id));
        }
        else if (request.Pod is { } pod)
        {
            var ids = await ConnectionsOfPodAsync(pod, request.Namespace, request.FromNs, request.ToNs, ct).ConfigureAwait(false);
            if (ids.Count == 0)
            {
                warnings.Add($"no connection of pod '{pod}' in the store{(request.FromNs is null && request.ToNs is null ? "" : " in that window")}");
                return null;
            }
            filters.Add(ColumnFilter.In("connection_id", [.. ids.Cast<object>()]));
        }
        else if (request.FromNs is null && request.ToNs is null)
        {
            throw new QueryException("export pcap needs a connection, a pod or a time window");
        }
        return new QuerySpec(TrafficTables.Packets)
        {
            From = request.FromNs,
            To = request.ToNs,
            Filters = filters,
            MaxBatchRows = options.BatchRows,
        };
    }

    private async Task<List<long>> ConnectionsOfPodAsync(string pod, string? ns, long? from, long? to, CancellationToken ct)
    {
        var filters = new List<ColumnFilter> { ColumnFilter.AnyOf(ColumnFilter.Eq("client_pod", pod), ColumnFilter.Eq("server_pod", pod)) };
        if (ns is not null) filters.Add(ColumnFilter.AnyOf(ColumnFilter.Eq("client_namespace", ns), ColumnFilter.Eq("server_namespace", ns)));
        // A connection overlaps the window when it starts before its end and ends at or after its start.
        if (to is long t) filters.Add(ColumnFilter.Lt("first_ts", t));
        if (from is long f) filters.Add(ColumnFilter.Ge("last_ts", f));
        var spec = new QuerySpec(TrafficTables.Connections) { Filters = filters, Columns = ["connection_id"] };
        var ids = new List<long>();
        await foreach (var b in engine.QueryAsync(spec, ct).ConfigureAwait(false))
        {
            var col = (Int64Array)b.Column(0);
            for (int i = 0; i < b.Length; i++) if (col.GetValue(i) is long v) ids.Add(v);
        }
        return ids;
    }

    private async Task<(SortedSet<long> Captures, SortedSet<int> LinkTypes)> SurveyAsync(QuerySpec spec, CancellationToken ct)
    {
        var captures = new SortedSet<long>();
        var types = new SortedSet<int>();
        var read = spec with { Columns = ["capture_id", "link_type"], MaxBatchRows = 65536 };
        await foreach (var b in engine.QueryAsync(read, ct).ConfigureAwait(false))
        {
            var capture = (Int64Array)b.Column(0);
            var link = (Int64Array)b.Column(1);
            for (int i = 0; i < b.Length; i++)
            {
                captures.Add(capture.GetValue(i) ?? 0);
                types.Add((int)(link.GetValue(i) ?? 0));
            }
        }
        return (captures, types);
    }

    /// <summary>
    /// The frames, whole, capture after capture (ingest order). Each capture is one query in the store's
    /// storage order, which streams row group by row group: a query in time order would gather a whole
    /// time partition (a minute of a busy store can be gigabytes) before returning its first row.
    /// Storage order is time order within a segment; <see cref="CaptureOrderBuffer"/> does the rest.
    /// </summary>
    private async IAsyncEnumerable<RecordBatch> Frames(QuerySpec spec, SortedSet<long> captures, QueryDiagnostics diag, FrameBodySplicer splicer,
        [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (long capture in captures)
        {
            var one = captures.Count == 1 ? spec : spec with { Filters = [.. spec.Filters, ColumnFilter.Eq("capture_id", capture)] };
            await foreach (var stored in engine.QueryAsync(one, diag, ct).ConfigureAwait(false))
                yield return await splicer.SpliceAsync(stored, ct).ConfigureAwait(false);
        }
    }

    private static async IAsyncEnumerable<RecordBatch> Empty()
    {
        await Task.CompletedTask;
        yield break;
    }
}
