using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Query;
using TrafficStore.Store.Tables;

namespace TrafficStore.Store.Client.Export;

/// <summary>
/// Bounds of a streamed pcap export (<see cref="PcapExporter"/>). Memory held by one export is about
/// <see cref="ChunkBytes"/> + <see cref="ReorderBytes"/> + record batches of <see cref="BatchRows"/> frames,
/// plus <see cref="BodyCacheBytes"/> of payload bodies and those one batch refers to, whatever the size of the result.
/// An export of several captures merges one stream per capture. A capture's stream is opened only when the merge
/// reaches its first frame's time and closed at its last frame, so only captures overlapping in time are open
/// together; those share the window, the batch rows and the batch bytes (each gets at least
/// <see cref="MinReorderBytesPerCapture"/>, <see cref="MinBatchRowsPerCapture"/> and <see cref="MinBatchBytesPerCapture"/>),
/// and each open stream also holds the row group the store is reading for it. Captures taken one after another
/// (the usual case: hundreds of them cost what one or two do) never hold more than two streams open.
/// </summary>
public sealed record PcapExportOptions
{
    /// <summary>Bytes staged before a write to the output (a file write, or one Flight result).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;

    /// <summary>Frames per record batch read from the store (stored frames are small; spliced ones can be 64 KiB each).</summary>
    public int BatchRows { get; init; } = 8192;

    /// <summary>
    /// The most capture streams one merge holds open. An export of more captures overlapping in time merges them in
    /// passes: groups of at most this many, each merged into a temp file (<see cref="MergeSpill"/>, the frames with
    /// their merge keys), then the temp files merged into the output — the same file (taking the earliest head of
    /// group merges is taking the earliest head of all), at the cost of writing and reading the frames once more on
    /// local disk. So memory stays this many streams' read-ahead, whatever the number of captures.
    /// </summary>
    public int MaxOpenCaptures { get; init; } = 32;

    /// <summary>
    /// Where merges in passes put their temp files (up to the export's size). Null: the store's own <c>tmp</c> folder
    /// (<see cref="ExportSpillDirectory"/>), on the store's volume, whose leftovers are deleted when the store opens; not
    /// the system temp folder, which on a pod may be RAM (tmpfs) or read-only. A folder given here is created on demand,
    /// and its leftovers from a crash are not deleted (it may be shared).
    /// </summary>
    public string? SpillDirectory { get; init; }

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

    /// <summary>The least of <see cref="ReorderBytes"/> one capture's stream gets when several overlapping ones are merged.</summary>
    public const long MinReorderBytesPerCapture = 256L << 10;

    /// <summary>The least of a query's batch bytes (<see cref="QuerySpec.MaxBatchBytes"/>) one capture's stream gets when several overlapping ones are merged.</summary>
    public const long MinBatchBytesPerCapture = 256L << 10;

    /// <summary>The least of <see cref="BatchRows"/> one capture's stream gets when several are merged.</summary>
    public const int MinBatchRowsPerCapture = 256;
}

/// <summary>
/// <c>export pcap</c>: reads the selected frames from the packets table in record batches, one stream per capture,
/// puts each capture's frames back in capture order (<see cref="CaptureOrderBuffer"/>), merges the captures by
/// timestamp (<see cref="WriteMergedAsync"/>, as <c>mergecap</c> does) and writes the frames to the output as they
/// come, in chunks (<see cref="CaptureFileWriter"/>): classic pcap or pcapng. Frames come out whole through the
/// store's own reader (<c>FrameBodySplicer</c>), however they are stored.
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
        var (captures, linkTypes) = spec is null ? (new SortedDictionary<long, (long First, long Last)>(), new SortedSet<int>()) : await SurveyAsync(spec, ct).ConfigureAwait(false);
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
        // Streams open together only where captures overlap in time: the read-ahead is shared among those (at most
        // MaxOpenCaptures of them: more are merged in passes).
        int overlap = Math.Min(PeakOverlap(captures.Values), Math.Max(options.MaxOpenCaptures, 1));
        int perCapture = Math.Max(options.BatchRows / overlap, Math.Min(options.BatchRows, PcapExportOptions.MinBatchRowsPerCapture));
        long batchBytes = Math.Max(new QuerySpec(TrafficTables.Packets).MaxBatchBytes / overlap, PcapExportOptions.MinBatchBytesPerCapture);
        var streams = spec is null ? [] : captures.Select(c => new MergeStream(
            Frames(spec, c.Key, captures.Count, perCapture, batchBytes, diag, splicer, ct), c.Value.First)).ToList();
        var outcome = PeakOverlap(captures.Values) > Math.Max(options.MaxOpenCaptures, 1)
            ? await WriteInPassesAsync(streams, writer, output,
                options with { SpillDirectory = options.SpillDirectory ?? ExportSpillDirectory.Of(engine.Options.Directory) }, ct).ConfigureAwait(false)
            : await WriteMergedAsync(streams, overlap, writer, output, options, ct).ConfigureAwait(false);
        MaxOpenStreams = outcome.MaxOpenStreams;

        warnings.AddRange(diag.Warnings.Select(w => w.Message).Distinct()); // one capture's stream or several may meet the same segment
        if (splicer.Warning is { } w) warnings.Add(w);
        if (outcome.OtherLinkType > 0)
            warnings.Add(writer is PcapFileWriter single
                ? $"{outcome.OtherLinkType} frames of another link type than {single.LinkType} appeared while exporting (ingest in progress) and were left out: a pcap file has one link type"
                // pcapng refuses only link types beyond its 16-bit field: rows stored by a client, not captured.
                : $"{outcome.OtherLinkType} frames with a link type outside 0-65535 were left out: a pcapng interface holds a 16-bit link type");
        if (outcome.TimeOutOfRange > 0)
            warnings.Add($"{outcome.TimeOutOfRange} frames with a time before 1970 or past what {format} holds were left out (rows stored by a client, not captured)");
        if (writer.ShortOriginalLengths > 0)
            warnings.Add($"{writer.ShortOriginalLengths} frames had a stored original length shorter than their bytes and were written with their captured length");
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

    /// <summary>The most capture streams the last export held open at once (tests: captures one after another hold one or two).</summary>
    internal int MaxOpenStreams { get; private set; }

    /// <summary>Counts of what <see cref="WriteAsync"/> could not write in place, and the most streams it held open at once.</summary>
    internal readonly record struct WriteOutcome(long OtherLinkType, long OutOfOrder, long TimeOutOfRange = 0, int MaxOpenStreams = 0);

    /// <summary>
    /// One input of the merge: its batches, the earliest timestamp among its frames (none comes before it), and its place
    /// in the tie order (-1: its position in the list merged).
    /// </summary>
    internal readonly record struct MergeStream(IAsyncEnumerable<RecordBatch> Batches, long FirstTime = long.MinValue, int Order = -1);

    /// <summary>The most captures whose [first, last] frame times overlap at one instant (at least 1).</summary>
    internal static int PeakOverlap(IEnumerable<(long First, long Last)> ranges)
    {
        // Starts before ends at the same instant: a capture starting where another ends is open with it for that frame.
        var events = ranges.SelectMany(r => new[] { (r.First, 0), (r.Last, 1) }).Order().ToList();
        int open = 0, peak = 1;
        foreach (var (_, kind) in events)
        {
            open += kind == 0 ? 1 : -1;
            peak = Math.Max(peak, open);
        }
        return peak;
    }

    /// <summary>
    /// Writes the frames of <paramref name="batches"/> (packets rows with whole <c>data</c>, about in time order) as they
    /// arrive: each batch enters the reorder window and whatever leaves it is staged and sent in chunks.
    /// Throws <see cref="PcapExportLimitException"/> when the file would exceed the writer's limit.
    /// </summary>
    internal static Task<WriteOutcome> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CaptureFileWriter writer, Stream output,
        PcapExportOptions options, CancellationToken ct) => WriteMergedAsync([batches], writer, output, options, ct);

    /// <summary><see cref="WriteMergedAsync(IReadOnlyList{MergeStream}, int, CaptureFileWriter, Stream, PcapExportOptions, CancellationToken)"/> of streams all open from the start.</summary>
    internal static Task<WriteOutcome> WriteMergedAsync(IReadOnlyList<IAsyncEnumerable<RecordBatch>> streams, CaptureFileWriter writer,
        Stream output, PcapExportOptions options, CancellationToken ct) =>
        WriteMergedAsync(streams.Select(s => new MergeStream(s)).ToList(), streams.Count, writer, output, options, ct);

    /// <summary>
    /// Merges <paramref name="streams"/> (one per capture, each about in time order) by timestamp and writes the frames
    /// as they come: each stream has its own reorder window (capture order within the capture), and the next frame
    /// written is the earliest of the streams' next frames — a k-way merge of the streams' heads, as <c>mergecap</c>
    /// merges files, so captures overlapping in time come out interleaved in time order and a capture's own frames keep
    /// their order (where a capture's timestamps step back, its later frames wait behind the earlier ones). Ties (equal
    /// timestamps): the stream of the lower capture id first (the first stream for frames without one), so the file
    /// is the same on every run. A stream is read only when its window has room, so memory stays one window and one
    /// batch per open stream.
    /// <para>
    /// A stream is opened (its query started, its window made) only once the merge's next frame is not earlier than the
    /// stream's <see cref="MergeStream.FirstTime"/>: its own next frame is never earlier than that, so until then it could
    /// not be the earliest head, and opening it later writes the same file as opening all at the start. It is closed as
    /// soon as it ends. <paramref name="concurrent"/> (the most streams expected open at once) shares
    /// <see cref="PcapExportOptions.ReorderBytes"/> among them.
    /// </para>
    /// </summary>
    internal static async Task<WriteOutcome> WriteMergedAsync(IReadOnlyList<MergeStream> streams, int concurrent, CaptureFileWriter writer,
        Stream output, PcapExportOptions options, CancellationToken ct)
    {
        long otherLinkType = 0, timeOutOfRange = 0;
        var (outOfOrder, maxOpen) = await MergeAsync(streams, concurrent, options, async input =>
        {
            var status = await TakeOneAsync(input.Order, writer, output, ct).ConfigureAwait(false);
            if (status == CaptureWriteStatus.OtherLinkType) otherLinkType++;
            else if (status == CaptureWriteStatus.TimeOutOfRange) timeOutOfRange++;
        }, ct).ConfigureAwait(false);
        await FinishAsync(writer, output, ct).ConfigureAwait(false);
        return new WriteOutcome(otherLinkType, outOfOrder, timeOutOfRange, maxOpen);
    }

    /// <summary>
    /// More captures overlapping in time than <see cref="PcapExportOptions.MaxOpenCaptures"/>: groups of that many captures
    /// (in the order of their first frames) are merged each into a <see cref="MergeSpill"/>, keeping every frame's merge
    /// key (time, capture, stream), then the spills are merged by those keys into the output. The earliest head of the
    /// group merges' heads is the earliest head of all streams, so this is the one-pass merge's file.
    /// </summary>
    internal static async Task<WriteOutcome> WriteInPassesAsync(IReadOnlyList<MergeStream> streams, CaptureFileWriter writer, Stream output,
        PcapExportOptions options, CancellationToken ct)
    {
        var spillDirectory = options.SpillDirectory ?? throw new ArgumentException("a merge in passes needs PcapExportOptions.SpillDirectory (the exporter sets the store's tmp folder)", nameof(options));
        int fanIn = Math.Max(options.MaxOpenCaptures, 1);
        var ordered = streams.Select((s, i) => s with { Order = s.Order < 0 ? i : s.Order }).OrderBy(s => s.FirstTime).ThenBy(s => s.Order).ToList();
        var spills = new List<MergeSpill>();
        long outOfOrder = 0, otherLinkType = 0, timeOutOfRange = 0;
        int maxOpen = 0;
        // Every frame passes through a spill before any reaches the output: an export past its limit would first copy the
        // whole selection into temp files. A writer of the output's kind sizes the file as the frames are spilled (a file's
        // size is the sum of its records, whatever their order), so the limit stops the passes where it would stop the output.
        var sizing = writer.MaxBytes is null ? null : writer switch
        {
            PcapFileWriter pcap => new PcapFileWriter(pcap.LinkType, writer.ChunkBytes, writer.MaxBytes),
            PcapNgFileWriter => (CaptureFileWriter)new PcapNgFileWriter(writer.ChunkBytes, writer.MaxBytes),
            _ => null,
        };
        try
        {
            for (int g = 0; g < ordered.Count; g += fanIn)
            {
                var spill = new MergeSpill(spillDirectory);
                spills.Add(spill);
                var group = ordered.Skip(g).Take(fanIn).ToList();
                var (late, open) = await MergeAsync(group, group.Count, options, input =>
                {
                    input.Order.TryTake(out var batch, out int row);
                    if (sizing is not null) Size(sizing, batch[row]);
                    spill.Write(batch, row, input.Index);
                    return ValueTask.CompletedTask;
                }, ct).ConfigureAwait(false);
                spill.Rewind();
                outOfOrder += late;
                maxOpen = Math.Max(maxOpen, open);
            }
            var heads = new PriorityQueue<MergeSpill, (long Time, long Capture, int Stream)>(spills.Count);
            foreach (var spill in spills)
                if (await spill.ReadNextAsync(ct).ConfigureAwait(false)) heads.Enqueue(spill, spill.Key);
            while (heads.TryDequeue(out var spill, out _))
            {
                while (true)
                {
                    var status = writer.TryWriteFrame(spill.Frame);
                    if (status == CaptureWriteStatus.OtherLinkType) otherLinkType++;
                    else if (status == CaptureWriteStatus.TimeOutOfRange) timeOutOfRange++;
                    if (status != CaptureWriteStatus.ChunkFull) { ThrowIfLimit(status, writer); break; }
                    await output.WriteAsync(writer.Pending, ct).ConfigureAwait(false);
                    writer.Clear();
                }
                if (await spill.ReadNextAsync(ct).ConfigureAwait(false)) heads.Enqueue(spill, spill.Key);
            }
        }
        finally
        {
            foreach (var spill in spills) await spill.DisposeAsync().ConfigureAwait(false);
        }
        await FinishAsync(writer, output, ct).ConfigureAwait(false);
        return new WriteOutcome(otherLinkType, outOfOrder, timeOutOfRange, maxOpen);
    }

    /// <summary>Counts <paramref name="frame"/> into <paramref name="sizing"/> (its bytes go nowhere); throws as the output would at its limit.</summary>
    private static void Size(CaptureFileWriter sizing, in ExportFrame frame)
    {
        while (true)
        {
            var status = sizing.TryWriteFrame(frame);
            sizing.Clear();
            if (status != CaptureWriteStatus.ChunkFull) { ThrowIfLimit(status, sizing); return; }
        }
    }

    private static async Task FinishAsync(CaptureFileWriter writer, Stream output, CancellationToken ct)
    {
        if (writer.Pending.Length > 0) await output.WriteAsync(writer.Pending, ct).ConfigureAwait(false);
        writer.Clear();
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The merge itself (see <see cref="WriteMergedAsync(IReadOnlyList{MergeStream}, int, CaptureFileWriter, Stream, PcapExportOptions, CancellationToken)"/>):
    /// hands the stream whose head is earliest to <paramref name="take"/>, which takes that one frame from its window.
    /// Returns the frames taken out of capture order and the most streams open at once.
    /// </summary>
    private static async Task<(long OutOfOrder, int MaxOpen)> MergeAsync(IReadOnlyList<MergeStream> streams, int concurrent, PcapExportOptions options,
        Func<MergeInput, ValueTask> take, CancellationToken ct)
    {
        long reorderBytes = concurrent <= 1 ? options.ReorderBytes
            : Math.Max(options.ReorderBytes / concurrent, Math.Min(options.ReorderBytes, PcapExportOptions.MinReorderBytesPerCapture));
        var waiting = new PriorityQueue<int, (long FirstTime, int Stream)>(streams.Count);
        for (int i = 0; i < streams.Count; i++) waiting.Enqueue(i, (streams[i].FirstTime, streams[i].Order < 0 ? i : streams[i].Order));
        var open = new HashSet<MergeInput>();
        var heads = new PriorityQueue<MergeInput, (long Time, long Capture, int Stream)>(streams.Count);
        long outOfOrder = 0;
        int maxOpen = 0;
        async ValueTask AdvanceAsync(MergeInput input)
        {
            if (await input.FillAsync().ConfigureAwait(false))
            {
                heads.Enqueue(input, input.HeadKey());
                return;
            }
            open.Remove(input); // ended: its query and window go now, not at the end of the export
            outOfOrder += input.Order.OutOfOrder;
            await input.Source.DisposeAsync().ConfigureAwait(false);
        }
        try
        {
            while (true)
            {
                // Open every stream whose frames may come before the current earliest head (or the next one when none is open).
                while (waiting.TryPeek(out int next, out var first) && (heads.Count == 0 || (heads.TryPeek(out _, out var head) && first.FirstTime <= head.Time)))
                {
                    waiting.Dequeue();
                    var input = new MergeInput(streams[next].Batches.GetAsyncEnumerator(ct), new CaptureOrderBuffer(options.ReorderFrames, reorderBytes),
                        streams[next].Order < 0 ? next : streams[next].Order);
                    open.Add(input);
                    maxOpen = Math.Max(maxOpen, open.Count);
                    await AdvanceAsync(input).ConfigureAwait(false);
                }
                if (!heads.TryDequeue(out var taken, out _)) break;
                await take(taken).ConfigureAwait(false);
                await AdvanceAsync(taken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var input in open) await input.Source.DisposeAsync().ConfigureAwait(false);
        }
        return (outOfOrder, maxOpen);
    }

    /// <summary>One stream of the merge: its batches and the reorder window they pass through.</summary>
    private sealed class MergeInput(IAsyncEnumerator<RecordBatch> source, CaptureOrderBuffer order, int index)
    {
        private bool _ended;

        /// <summary>The stream's place in the tie order.</summary>
        public int Index { get; } = index;

        public IAsyncEnumerator<RecordBatch> Source { get; } = source;
        public CaptureOrderBuffer Order { get; } = order;

        /// <summary>
        /// Reads batches until the window must give a frame up (or the stream ends); true while a frame is there to
        /// take. The same adds and takes as writing this stream alone, so its frames leave the window in the same order.
        /// </summary>
        public async ValueTask<bool> FillAsync()
        {
            while (!Order.NeedsTake && !_ended)
            {
                if (await Source.MoveNextAsync().ConfigureAwait(false)) Order.Add(Source.Current);
                else _ended = true;
            }
            return Order.BufferedFrames > 0;
        }

        /// <summary>The merge key of the frame this stream gives next: its timestamp, then its capture, then the stream.</summary>
        public (long Time, long Capture, int Stream) HeadKey()
        {
            Order.TryPeek(out var batch, out int row);
            return (batch.Timestamp.GetValue(row) ?? 0, batch.Capture.GetValue(row) ?? 0, Index);
        }
    }

    /// <summary>Writes the next frame in capture order: Written, or why it was left out (OtherLinkType, TimeOutOfRange).</summary>
    private static async ValueTask<CaptureWriteStatus> TakeOneAsync(CaptureOrderBuffer order, CaptureFileWriter writer, Stream output, CancellationToken ct)
    {
        order.TryTake(out var batch, out int row);
        while (true)
        {
            var status = writer.TryWriteFrame(batch[row]);
            switch (status)
            {
                case CaptureWriteStatus.Written:
                case CaptureWriteStatus.OtherLinkType:
                case CaptureWriteStatus.TimeOutOfRange:
                    return status;
                case CaptureWriteStatus.ChunkFull:
                    await output.WriteAsync(writer.Pending, ct).ConfigureAwait(false);
                    writer.Clear();
                    break;
                case CaptureWriteStatus.LimitReached:
                    ThrowIfLimit(status, writer);
                    break;
            }
        }
    }

    private static void ThrowIfLimit(CaptureWriteStatus status, CaptureFileWriter writer)
    {
        if (status == CaptureWriteStatus.LimitReached)
            throw new PcapExportLimitException(
                $"the export would exceed its limit of {writer.MaxBytes} bytes (after {writer.Frames} frames, {writer.BytesWritten} bytes): " +
                "narrow it (a connection, a pod, a shorter window) or raise the limit; the file written so far is incomplete");
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

    /// <summary>The captures of the selection with the time of their first and last frame, and the link types.</summary>
    private async Task<(SortedDictionary<long, (long First, long Last)> Captures, SortedSet<int> LinkTypes)> SurveyAsync(QuerySpec spec, CancellationToken ct)
    {
        var captures = new SortedDictionary<long, (long First, long Last)>();
        var types = new SortedSet<int>();
        var read = spec with { Columns = ["capture_id", "link_type", "ts"], MaxBatchRows = 65536 };
        await foreach (var b in engine.QueryAsync(read, ct).ConfigureAwait(false))
        {
            var capture = (Int64Array)b.Column(0);
            var link = (Int64Array)b.Column(1);
            var ts = (TimestampArray)b.Column(2);
            for (int i = 0; i < b.Length; i++)
            {
                long c = capture.GetValue(i) ?? 0, t = ts.GetValue(i) ?? 0; // as the merge keys read them
                captures[c] = captures.TryGetValue(c, out var range) ? (Math.Min(range.First, t), Math.Max(range.Last, t)) : (t, t);
                types.Add((int)(link.GetValue(i) ?? 0));
            }
        }
        return (captures, types);
    }

    /// <summary>The packets columns an export reads: what the writer and the reorder window use, and what the splicer needs.</summary>
    private static readonly string[] ExportColumns =
        [.. new[] { "ts", "capture_id", "frame", "interface_id", "link_type", "orig_len", "data" }.Union(FrameBodySplicer.ReferenceColumns)];

    /// <summary>
    /// The frames of one capture, whole. One query in the store's storage order, which streams row group by row
    /// group and is time order within a segment (<see cref="CaptureOrderBuffer"/> does the rest): the store need not
    /// merge segments by time, and the merge across captures is <see cref="WriteMergedAsync"/>'s.
    /// </summary>
    private async IAsyncEnumerable<RecordBatch> Frames(QuerySpec spec, long capture, int captures, int batchRows, long batchBytes, QueryDiagnostics diag,
        FrameBodySplicer splicer, [EnumeratorCancellation] CancellationToken ct)
    {
        var one = captures == 1 ? spec with { Columns = ExportColumns }
            : spec with { Filters = [.. spec.Filters, ColumnFilter.Eq("capture_id", capture)], MaxBatchRows = batchRows, MaxBatchBytes = batchBytes, Columns = ExportColumns };
        await foreach (var stored in engine.QueryAsync(one, diag, ct).ConfigureAwait(false))
            yield return await splicer.SpliceAsync(stored, ct).ConfigureAwait(false);
    }
}
