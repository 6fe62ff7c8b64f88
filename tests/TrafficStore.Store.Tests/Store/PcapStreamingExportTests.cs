using System.Diagnostics;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Client;
using TrafficStore.Store.Client.Export;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Query;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// Streamed `export pcap`: whole-capture window exports give back the input's frames (bytes, ns timestamps,
/// original lengths, capture order; several captures merged by timestamp, as mergecap merges) as classic pcap and as pcapng
/// read by our reader, tshark and capinfos;
/// mixed link types become pcapng or are refused for classic pcap; the byte limit; and, with synthetic
/// batches, that the writer streams: it writes while the source is still being read and lets go of batches
/// it has written (weak references die), so memory does not grow with the export.
/// </summary>
public class PcapStreamingExportTests
{
    private static readonly long[] Everything = [0, 4_000_000_000_000_000_000];

    internal sealed record Frame(long TimestampNs, int OriginalLength, LinkType LinkType, int InterfaceId, byte[] Data);

    internal static List<Frame> ReadFrames(string path)
    {
        var frames = new List<Frame>();
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            frames.Add(new Frame(frame.TimestampNs, frame.OriginalLength, frame.LinkType, frame.InterfaceId, frame.Data.ToArray()));
        return frames;
    }

    internal static void AssertSameFrames(List<Frame> expected, List<Frame> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: {actual.Count} frames exported, expected {expected.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].TimestampNs == actual[i].TimestampNs, $"{what}: frame {i + 1} timestamp {actual[i].TimestampNs}, expected {expected[i].TimestampNs}");
            Assert.True(expected[i].OriginalLength == actual[i].OriginalLength, $"{what}: frame {i + 1} original length");
            Assert.True(expected[i].LinkType == actual[i].LinkType, $"{what}: frame {i + 1} link type");
            Assert.True(expected[i].Data.AsSpan().SequenceEqual(actual[i].Data), $"{what}: frame {i + 1} bytes");
        }
    }

    private static PcapExportRequest Window(PcapExportFormat format = PcapExportFormat.Auto) =>
        new() { FromNs = Everything[0], ToNs = Everything[1], Format = format };

    private static async Task<(PcapExportSummary Summary, string Path)> ExportToFile(ITrafficClient client, PcapExportRequest request, string dir, string name)
    {
        var path = Path.Combine(dir, name);
        await using var file = File.Create(path);
        return (await client.ExportPcapAsync(request, file), path);
    }

    [Theory]
    [InlineData("http11-chunked-gzip-multi-conn.pcap")]
    [InlineData("sll-nanosec-tcp-handshake.pcap")]
    [InlineData("ipv6-rawip-4-http-streams.pcap")]
    [InlineData("mixed-large-many-protocols.pcap")]
    [InlineData("grpc-unary-h2c.pcapng")]
    public async Task WindowExportOfAWholeCaptureIsTheCaptureInBothFormats(string capture)
    {
        var input = Pcap(capture);
        var expected = ReadFrames(input);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(input);
        // Small chunks and batches, so a few MB cross many of each.
        await using var client = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { ChunkBytes = 64 << 10, BatchRows = 512 });

        var (pcap, pcapPath) = await ExportToFile(client, Window(), dir.Path, "all.pcap");
        Assert.Equal(PcapExportFormat.Pcap, pcap.Format);
        Assert.Equal(PcapFileWriter.NanosecondMagic, BitConverter.ToUInt32(File.ReadAllBytes(pcapPath).AsSpan(0, 4)));
        AssertSameFrames(expected, ReadFrames(pcapPath), capture + " as pcap");
        Assert.Equal(expected.Count, pcap.Frames);
        Assert.Equal(new FileInfo(pcapPath).Length, pcap.Bytes);

        var (ng, ngPath) = await ExportToFile(client, Window(PcapExportFormat.PcapNg), dir.Path, "all.pcapng");
        Assert.Equal(PcapExportFormat.PcapNg, ng.Format);
        AssertSameFrames(expected, ReadFrames(ngPath), capture + " as pcapng");
        Assert.Equal(new FileInfo(ngPath).Length, ng.Bytes);

        // tshark reads both exports; its view of every frame (time, lengths, protocols) equals its view of the input.
        string View(string path) => Run("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len", "-e", "frame.protocols");
        var inputView = View(input);
        Assert.Equal(inputView, View(pcapPath));
        Assert.Equal(inputView, View(ngPath));
        var info = Run("capinfos", "-M", ngPath);
        Assert.Contains("pcapng", info);
        Assert.Contains($"Number of packets:   {expected.Count}", info);
        Assert.Contains("nanoseconds (9)", info);
    }

    [Fact]
    public async Task MixedLinkTypesBecomePcapNgAndClassicPcapRefusesThem()
    {
        // Ethernet and BSD loopback frames on 2 of 11 interfaces; frame 3's timestamp is earlier than frame 2's.
        const string capture = "pcapng-many-interfaces.pcapng";
        var expected = ReadFrames(Pcap(capture));
        Assert.Contains(expected, f => f.LinkType == LinkType.Null);
        Assert.True(expected[2].TimestampNs < expected[1].TimestampNs);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        await using var client = new LocalTrafficClient(db);

        var (auto, path) = await ExportToFile(client, Window(), dir.Path, "mixed.out");
        Assert.Equal(PcapExportFormat.PcapNg, auto.Format);
        Assert.Equal(-1, auto.LinkType);
        Assert.Equal(new[] { 0, 1 }, auto.LinkTypes);
        Assert.Empty(auto.Warnings);
        AssertSameFrames(expected, ReadFrames(path), "mixed link types, capture order");
        // One IDB per interface used, each with its link type, nanosecond resolution.
        var info = Run("capinfos", "-M", path);
        Assert.Contains("Number of interfaces in file: 2", info);
        Assert.Contains("Encapsulation = Ethernet (1 - ether)", info);
        Assert.Contains("Encapsulation = NULL/Loopback (15 - null)", info);
        Assert.DoesNotContain("microseconds", info);

        var refused = await Assert.ThrowsAsync<QueryException>(() => ExportToFile(client, Window(PcapExportFormat.Pcap), dir.Path, "mixed.pcap"));
        Assert.Contains("pcapng", refused.Message);
        Assert.Contains("0, 1", refused.Message);
        Assert.Equal(0, new FileInfo(Path.Combine(dir.Path, "mixed.pcap")).Length); // nothing written before the refusal
    }

    [Fact]
    public async Task OneLinkTypeOnTwoInterfacesStaysClassicUnlessPcapNgIsAsked()
    {
        const string capture = "pcapng-multi-interface-dns.pcapng"; // Ethernet on both; ns and µs resolutions
        var expected = ReadFrames(Pcap(capture));
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        await using var client = new LocalTrafficClient(db);

        var (auto, path) = await ExportToFile(client, Window(), dir.Path, "dns.pcap");
        Assert.Equal((PcapExportFormat.Pcap, 1), (auto.Format, auto.LinkType));
        AssertSameFrames(expected, ReadFrames(path), "classic");

        var (ng, ngPath) = await ExportToFile(client, Window(PcapExportFormat.PcapNg), dir.Path, "dns.pcapng");
        Assert.Equal(PcapExportFormat.PcapNg, ng.Format);
        var frames = ReadFrames(ngPath);
        AssertSameFrames(expected, frames, "pcapng");
        Assert.Equal(expected.Select(f => f.InterfaceId), frames.Select(f => f.InterfaceId)); // the capture's interfaces kept apart
    }

    /// <summary>
    /// mergecap's merge (wiretap/merge.c): the next frame is the earliest of the inputs' next frames; on equal
    /// timestamps the earlier input's. Returns each frame with the input it came from.
    /// </summary>
    internal static List<(Frame Frame, int Input)> MergeByHead(params List<Frame>[] inputs)
    {
        var next = new int[inputs.Length];
        var merged = new List<(Frame, int)>();
        while (true)
        {
            int best = -1;
            for (int i = 0; i < inputs.Length; i++)
                if (next[i] < inputs[i].Count && (best < 0 || inputs[i][next[i]].TimestampNs < inputs[best][next[best]].TimestampNs)) best = i;
            if (best < 0) return merged;
            merged.Add((inputs[best][next[best]++], best));
        }
    }

    [Fact]
    public async Task TwoCapturesOfTheSameTimesInterleaveFrameByFrameEachInCaptureOrder()
    {
        const string capture = "pcapng-many-interfaces.pcapng"; // two interfaces, a timestamp stepping back
        var expected = ReadFrames(Pcap(capture));
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        await using var client = new LocalTrafficClient(db);

        var (summary, path) = await ExportToFile(client, Window(PcapExportFormat.PcapNg), dir.Path, "twice.pcapng");
        var frames = ReadFrames(path);
        Assert.Equal(2 * expected.Count, summary.Frames);
        // Every timestamp ties with the other capture's: the first ingested capture's frame comes first, and where the
        // capture's timestamps step back both keep their own order (mergecap gives the same file of the capture twice).
        var merged = MergeByHead(expected, expected);
        AssertSameFrames(merged.Select(m => m.Frame).ToList(), frames, "both captures");
        AssertSameFrames(merged.Select(m => m.Frame).ToList(), MergeCap(dir.Path, Pcap(capture), Pcap(capture)), "mergecap of the capture twice");
        // Each capture's interfaces get their own IDBs, numbered as they first appear in the merged file.
        var idbs = merged.Select(m => (m.Input, m.Frame.InterfaceId)).Distinct().ToList();
        Assert.Equal(4, idbs.Count);
        Assert.Equal(merged.Select(m => idbs.IndexOf((m.Input, m.Frame.InterfaceId))), frames.Select(f => f.InterfaceId));
    }

    /// <summary>
    /// Two captures overlapping in time (the second is the first shifted by 10 µs, less than the median gap between its
    /// frames) exported in one window come out in time order, interleaved as mergecap interleaves them, in both formats,
    /// through batches much smaller than the captures.
    /// </summary>
    [Theory]
    [InlineData(PcapExportFormat.Pcap)]
    [InlineData(PcapExportFormat.PcapNg)]
    public async Task TwoCapturesWithInterleavedTimesComeOutInTimeOrder(PcapExportFormat format)
    {
        var input = Pcap("http11-chunked-gzip-multi-conn.pcap"); // 207 frames, strictly in time order
        using var dir = new TempDir();
        var shifted = Path.Combine(dir.Path, "shifted.pcap");
        Run("editcap", "-F", "pcap", "-t", "0.00001", input, shifted);
        var first = ReadFrames(input);
        var second = ReadFrames(shifted);
        var merged = MergeByHead(first, second);
        int switches = merged.Zip(merged.Skip(1)).Count(p => p.First.Input != p.Second.Input);
        Assert.True(switches > 100, $"the captures interleave only {switches} times"); // the test input does interleave

        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(input);
        await new CaptureIngestor(db).IngestFileAsync(shifted);
        await using var client = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { ChunkBytes = 4 << 10, BatchRows = 64, ReorderFrames = 16 });
        var (summary, path) = await ExportToFile(client, Window(format), dir.Path, "both." + (format == PcapExportFormat.Pcap ? "pcap" : "pcapng"));
        Assert.Equal(format, summary.Format);
        Assert.Empty(summary.Warnings);

        var frames = ReadFrames(path);
        for (int i = 1; i < frames.Count; i++)
            Assert.True(frames[i - 1].TimestampNs <= frames[i].TimestampNs, $"frame {i + 1} is stamped before frame {i}");
        AssertSameFrames(merged.Select(m => m.Frame).ToList(), frames, "two interleaved captures");
        // mergecap (Wireshark 4.0, wiretap/merge.c is_earlier) takes the *last* input's frame on equal timestamps; the
        // export takes the lower capture id (ingest order). Given the files in reverse ingest order, mergecap agrees.
        AssertSameFrames(MergeCap(dir.Path, shifted, input), frames, "mergecap of the two captures, reverse order");
        Assert.True(merged.Zip(MergeCap(dir.Path, input, shifted)).Any(p => !p.First.Frame.Data.AsSpan().SequenceEqual(p.Second.Data)),
            "the captures have frames of equal timestamps, so the tie rule shows");
        Assert.Contains("Strict time order:   True", Run("capinfos", "-o", path));
    }

    /// <summary>
    /// Many captures taken one after another (24 copies of a capture, each a minute after the previous): the export opens
    /// each capture's stream only when the merge reaches its first frame and closes it at its last, so it never holds more
    /// than two open (before: all 24 at once, each with its query's row group and a share of at least 1 MiB of window), and
    /// the file is still mergecap's, given the files newest first (its tie rule, see above).
    /// </summary>
    [Fact]
    public async Task ManyCapturesOneAfterAnotherHoldAtMostTwoStreamsOpenAndMatchMergecap()
    {
        const int Captures = 24;
        var input = Pcap("http11-get-simple.pcap");
        using var dir = new TempDir();
        var files = new List<string>();
        for (int i = 0; i < Captures; i++)
        {
            var shifted = Path.Combine(dir.Path, $"c{i:D2}.pcap");
            Run("editcap", "-F", "pcap", "-t", (60 * i).ToString(System.Globalization.CultureInfo.InvariantCulture), input, shifted);
            files.Add(shifted);
        }
        await using var db = OpenDatabase(dir.Path);
        foreach (var f in files) await new CaptureIngestor(db).IngestFileAsync(f);
        await db.Engine.FlushAsync();

        var exporter = new PcapExporter(db.Engine, new PcapExportOptions());
        var path = Path.Combine(dir.Path, "all.pcap");
        PcapExportSummary summary;
        await using (var file = File.Create(path)) summary = await exporter.ExportAsync(Window(PcapExportFormat.Pcap), file, CancellationToken.None);
        Assert.Empty(summary.Warnings);
        Assert.InRange(exporter.MaxOpenStreams, 1, 2);
        var expected = MergeCap(dir.Path, [.. Enumerable.Reverse(files)]);
        Assert.Equal(Captures * ReadFrames(input).Count, expected.Count);
        AssertSameFrames(expected, ReadFrames(path), $"{Captures} captures one after another");
    }

    /// <summary>
    /// Opening a stream only when the merge reaches its first timestamp writes the same file as opening every stream at
    /// the start: random captures overlapping in places, with timestamps stepping back, ties between captures, and
    /// windows smaller than the step-backs (so frames leave out of order the same way in both).
    /// </summary>
    [Fact]
    public async Task LazilyOpenedStreamsWriteTheSameFileAsStreamsOpenFromTheStart()
    {
        var random = new Random(11);
        var captures = new List<RecordBatch[]>();
        for (int c = 0; c < 30; c++)
        {
            long start = random.Next(0, 2000) * 10L;
            int n = random.Next(1, 60);
            long frame = c * 1000L;
            var times = new List<long>();
            long t = start;
            for (int i = 0; i < n; i++)
            {
                t += random.Next(0, 4) * 10L;
                times.Add(random.Next(6) == 0 ? Math.Max(start, t - 300) : t); // now and then a step back
            }
            var sorted = times.Order().ToArray(); // the store returns a capture's frames in time order
            var numbers = times.Select((_, i) => frame + 1 + i).ToArray();
            var byTime = numbers.Zip(times).OrderBy(p => p.Second).ThenBy(p => p.First).Select(p => p.First).ToArray();
            captures.Add(Enumerable.Range(0, (n + 9) / 10).Select(b => Batch(byTime.Skip(b * 10).Take(10).ToArray(), sorted.Skip(b * 10).Take(10).ToArray(), 16, capture: c + 1)).ToArray());
        }
        async IAsyncEnumerable<RecordBatch> Stream(RecordBatch[] batches)
        {
            foreach (var b in batches)
            {
                await Task.Yield();
                yield return b;
            }
        }
        var options = new PcapExportOptions { ChunkBytes = 4 << 10, ReorderFrames = 3 };
        async Task<(byte[] File, PcapExporter.WriteOutcome Outcome)> Merge(bool lazy, int passes = 0)
        {
            using var output = new MemoryStream();
            var streams = captures.Select(c => new PcapExporter.MergeStream(Stream(c),
                lazy ? c.Min(b => ((TimestampArray)b.Column("ts")).Values.ToArray().Min()) : long.MinValue)).ToList();
            var writer = new PcapFileWriter(1, options.ChunkBytes, null);
            var outcome = passes > 0
                ? await PcapExporter.WriteInPassesAsync(streams, writer, output, options with { MaxOpenCaptures = passes }, CancellationToken.None)
                : await PcapExporter.WriteMergedAsync(streams, lazy ? 4 : streams.Count, writer, output, options, CancellationToken.None);
            return (output.ToArray(), outcome);
        }
        var (eager, eagerOutcome) = await Merge(lazy: false);
        var (lazyFile, lazyOutcome) = await Merge(lazy: true);
        Assert.Equal(30, eagerOutcome.MaxOpenStreams);
        Assert.True(lazyOutcome.MaxOpenStreams < 30, $"{lazyOutcome.MaxOpenStreams} streams open at once");
        Assert.True(eagerOutcome.OutOfOrder > 0, "the windows are too small for some step-backs: the test covers late frames");
        Assert.Equal(eagerOutcome.OutOfOrder, lazyOutcome.OutOfOrder);
        Assert.Equal(eager, lazyFile);
        // Merged in passes of at most 4 streams through temp files: the same file again.
        var (passesFile, passesOutcome) = await Merge(lazy: true, passes: 4);
        Assert.InRange(passesOutcome.MaxOpenStreams, 1, 4);
        Assert.Equal(eagerOutcome.OutOfOrder, passesOutcome.OutOfOrder);
        Assert.Equal(eager, passesFile);
    }

    /// <summary>
    /// More captures overlapping in time than an export holds open (here 2 of 6) are merged in passes through temp
    /// files: the file is still mergecap's, and no more than 2 streams were open at once.
    /// </summary>
    [Fact]
    public async Task OverlappingCapturesBeyondTheOpenLimitAreMergedInPassesAsMergecapMerges()
    {
        var input = Pcap("http11-chunked-gzip-multi-conn.pcap");
        using var dir = new TempDir();
        var files = new List<string>();
        for (int i = 0; i < 6; i++)
        {
            var shifted = Path.Combine(dir.Path, $"o{i}.pcap");
            Run("editcap", "-F", "pcap", "-t", $"0.0000{i}3", input, shifted); // all overlap; ties where shifts coincide with gaps
            files.Add(shifted);
        }
        await using var db = OpenDatabase(dir.Path);
        foreach (var f in files) await new CaptureIngestor(db).IngestFileAsync(f);
        await db.Engine.FlushAsync();

        var exporter = new PcapExporter(db.Engine, new PcapExportOptions { MaxOpenCaptures = 2, ChunkBytes = 4 << 10 });
        var path = Path.Combine(dir.Path, "passes.pcapng");
        PcapExportSummary summary;
        await using (var file = File.Create(path)) summary = await exporter.ExportAsync(Window(PcapExportFormat.PcapNg), file, CancellationToken.None);
        Assert.Empty(summary.Warnings);
        Assert.InRange(exporter.MaxOpenStreams, 1, 2);
        var expected = MergeCap(dir.Path, [.. Enumerable.Reverse(files)]);
        Assert.Equal(6 * ReadFrames(input).Count, expected.Count);
        AssertSameFrames(expected, ReadFrames(path), "6 overlapping captures in passes of 2");
        var frames = ReadFrames(path);
        Assert.All(frames.Zip(frames.Skip(1)), p => Assert.True(p.First.TimestampNs <= p.Second.TimestampNs)); // time order across captures
    }

    private static List<Frame> MergeCap(string dir, params string[] inputs)
    {
        var merged = Path.Combine(dir, $"mergecap-{Guid.NewGuid():N}.pcapng");
        Run("mergecap", ["-w", merged, .. inputs]);
        return ReadFrames(merged);
    }

    [Theory]
    [InlineData("pcapng-many-interfaces.pcapng", PcapExportFormat.Auto)]
    [InlineData("http11-chunked-gzip-multi-conn.pcap", PcapExportFormat.Pcap)]
    [InlineData("http11-chunked-gzip-multi-conn.pcap", PcapExportFormat.PcapNg)]
    public async Task TheFileDoesNotDependOnChunkOrBatchSizes(string capture, PcapExportFormat format)
    {
        // Chunks smaller than one frame (each record then gets a chunk of its own), a batch per frame, the defaults.
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        byte[]? first = null;
        foreach (var options in new[]
        {
            new PcapExportOptions { ChunkBytes = 256, BatchRows = 1 },
            new PcapExportOptions { ChunkBytes = 4096, BatchRows = 7 },
            new PcapExportOptions(),
        })
        {
            await using var client = new LocalTrafficClient(db, exportOptions: options);
            using var output = new MemoryStream();
            await client.ExportPcapAsync(Window(format), output);
            if (first is null) first = output.ToArray();
            else Assert.Equal(first, output.ToArray());
        }
        Assert.True(first!.Length > 4096);
    }

    [Fact]
    public async Task AReorderWindowTooSmallForTheCaptureIsReportedNotSilent()
    {
        // Frames 3 and 4 are stamped before frame 2: a window of one frame cannot hold frame 2 back far enough.
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap("pcapng-many-interfaces.pcapng"));
        await using var client = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { ReorderFrames = 1, BatchRows = 1 });
        var summary = await client.ExportPcapAsync(Window(), new MemoryStream());
        Assert.Equal(64, summary.Frames);
        Assert.Contains(summary.Warnings, w => w.Contains("out of capture order") && w.Contains("reorder window (1 frames)"));
    }

    [Fact]
    public async Task TheByteLimitStopsTheExportWithAClearError()
    {
        const string capture = "http11-chunked-gzip-multi-conn.pcap";
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(Pcap(capture));
        await using var client = new LocalTrafficClient(db);
        long size = new FileInfo((await ExportToFile(client, Window(), dir.Path, "full.pcap")).Path).Length;

        var (exact, _) = await ExportToFile(client, Window() with { MaxBytes = size }, dir.Path, "exact.pcap");
        Assert.Equal(size, exact.Bytes);

        var over = await Assert.ThrowsAsync<PcapExportLimitException>(() => ExportToFile(client, Window() with { MaxBytes = size - 1 }, dir.Path, "over.pcap"));
        Assert.Contains($"limit of {size - 1} bytes", over.Message);
        Assert.True(new FileInfo(Path.Combine(dir.Path, "over.pcap")).Length < size);
    }

    // ------------------------------------------------------------------ the writer on synthetic batches

    private static readonly Schema PacketSchema = new Schema.Builder()
        .Field(f => f.Name("ts").DataType(new TimestampType(TimeUnit.Nanosecond, "UTC")))
        .Field(f => f.Name("capture_id").DataType(Int64Type.Default))
        .Field(f => f.Name("frame").DataType(Int64Type.Default))
        .Field(f => f.Name("interface_id").DataType(Int64Type.Default))
        .Field(f => f.Name("link_type").DataType(Int64Type.Default))
        .Field(f => f.Name("orig_len").DataType(Int64Type.Default))
        .Field(f => f.Name("data").DataType(BinaryType.Default))
        .Build();

    /// <summary>Frames numbered from <paramref name="frames"/>; each frame's bytes start with its number (8 bytes LE).</summary>
    private static RecordBatch Batch(long[] frames, long[] times, int frameBytes, long capture = 1)
    {
        var data = new BinaryArray.Builder();
        var bytes = new byte[frameBytes];
        foreach (long f in frames)
        {
            BitConverter.TryWriteBytes(bytes, f);
            data.Append(bytes.AsSpan());
        }
        Int64Array Longs(Func<long, long> value) => new Int64Array.Builder().AppendRange(frames.Select(value)).Build();
        var ts = new TimestampArray(new TimestampType(TimeUnit.Nanosecond, "UTC"), new ArrowBuffer.Builder<long>().AppendRange(times).Build(),
            ArrowBuffer.Empty, times.Length, 0, 0);
        return new RecordBatch(PacketSchema, [ts, Longs(_ => capture), Longs(f => f), Longs(_ => 0), Longs(_ => 1), Longs(_ => frameBytes + 4), data.Build()], frames.Length);
    }

    private static long FrameNumber(Frame f) => BitConverter.ToInt64(f.Data, 0);

    /// <summary>Counts and checks every write; keeps nothing.</summary>
    private sealed class CountingStream(int maxWrite) : Stream
    {
        public long Written { get; private set; }
        public int Writes { get; private set; }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Assert.True(buffer.Length <= maxWrite, $"a write of {buffer.Length} bytes");
            Written += buffer.Length;
            Writes++;
            return ValueTask.CompletedTask;
        }
        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("the exporter writes asynchronously");
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => Written;
        public override long Position { get => Written; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public async Task TheWriterStreamsAndLetsGoOfWrittenBatches()
    {
        const int batches = 120, rows = 100, frameBytes = 1000;
        var options = new PcapExportOptions { ChunkBytes = 64 << 10, ReorderFrames = rows, ReorderBytes = 0 };
        var output = new CountingStream(options.ChunkBytes);
        var alive = new List<WeakReference>();
        long batchBytes = rows * (long)(PcapFileWriter.RecordHeaderLength + frameBytes);
        int maxAlive = 0;

        [MethodImpl(MethodImplOptions.NoInlining)]
        void Track(RecordBatch b) => alive.Add(new WeakReference(b));

        async IAsyncEnumerable<RecordBatch> Source()
        {
            for (int k = 0; k < batches; k++)
            {
                // Before handing out batch k: everything but the last few batches handed out must be written and unreachable.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                int live = alive.Count(w => w.IsAlive);
                maxAlive = Math.Max(maxAlive, live);
                Assert.True(output.Written >= (k - 3) * batchBytes, $"only {output.Written} bytes written after {k} batches were read");
                var frames = Enumerable.Range(k * rows + 1, rows).Select(i => (long)i).ToArray();
                var batch = Batch(frames, frames.Select(f => 1_000_000_000L + f).ToArray(), frameBytes);
                Track(batch);
                yield return batch;
                await Task.Yield();
            }
        }

        var writer = new PcapFileWriter(1, options.ChunkBytes, maxBytes: null);
        var outcome = await PcapExporter.WriteAsync(Source(), writer, output, options, CancellationToken.None);
        Assert.Equal(batches * rows, writer.Frames);
        Assert.Equal(PcapFileWriter.FileHeaderLength + batches * batchBytes, output.Written);
        Assert.Equal(0, outcome.OutOfOrder);
        Assert.True(output.Writes >= batches * batchBytes / options.ChunkBytes);
        // 120 batches (~12.5 MB) went through; at no point were more than a few of them reachable.
        Assert.InRange(maxAlive, 1, 4);
    }

    /// <summary>
    /// The merge on synthetic streams: the earliest head next; equal timestamps go to the lower capture id even when its
    /// stream is the second; a capture whose timestamps step back (frame 5 stamped before 3 and 4, so the store returns
    /// it before them) keeps its frame order, its later frames waiting behind the earlier ones.
    /// </summary>
    [Fact]
    public async Task TheMergeTakesTheEarliestHeadAndOnEqualTimesTheLowerCapture()
    {
        // Capture 7, frames 1..6 stamped 10, 20, 30, 30, 25, 40, in the store's time order; capture 3, frames 101..104.
        var seven = Batch([1, 2, 5, 3, 4, 6], [10, 20, 25, 30, 30, 40], 32, capture: 7);
        var three = Batch([101, 102, 103, 104], [10, 30, 35, 40], 32, capture: 3);
        async IAsyncEnumerable<RecordBatch> One(RecordBatch b)
        {
            await Task.Yield();
            yield return b;
        }
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "merged.pcap");
        var options = new PcapExportOptions { ChunkBytes = 4 << 10, ReorderFrames = 4 };
        await using (var file = File.Create(path))
        {
            var outcome = await PcapExporter.WriteMergedAsync([One(seven), One(three)], new PcapFileWriter(1, options.ChunkBytes, null), file, options, CancellationToken.None);
            Assert.Equal(0, outcome.OutOfOrder);
        }
        var frames = ReadFrames(path);
        Assert.Equal([101, 1, 2, 102, 3, 4, 5, 103, 104, 6], frames.Select(FrameNumber));
        Assert.Equal([10, 10, 20, 30, 30, 30, 25, 35, 40, 40], frames.Select(f => f.TimestampNs));
    }

    [Fact]
    public async Task TheReorderWindowRestoresCaptureOrderAndCountsWhatItCannot()
    {
        // Time order swaps neighbours (frame 2k+1 stamped before 2k): within the window, capture order comes back.
        long[] frames = Enumerable.Range(1, 400).Select(i => (long)i).ToArray();
        long[] times = frames.Select(f => 1_000_000L * (f % 2 == 1 ? f + 1 : f - 1) + f).ToArray();
        var inTimeOrder = frames.Zip(times).OrderBy(p => p.Second).ToArray();
        async IAsyncEnumerable<RecordBatch> Source()
        {
            foreach (var chunk in inTimeOrder.Chunk(50)) yield return Batch(chunk.Select(p => p.First).ToArray(), chunk.Select(p => p.Second).ToArray(), 64);
            await Task.CompletedTask;
        }
        using var ms = new MemoryStream();
        var writer = new PcapFileWriter(1, 4096, null);
        var outcome = await PcapExporter.WriteAsync(Source(), writer, ms, new PcapExportOptions { ReorderFrames = 8 }, CancellationToken.None);
        Assert.Equal(0, outcome.OutOfOrder);
        Assert.Equal(frames, ReadFramesOf(ms).Select(FrameNumber));

        // Frame 1 stamped last: 399 frames later than a window of 8 can hold it back; it is written late (as soon as
        // it arrives, ahead of what is still in the window) and counted; the others keep their order.
        times = frames.Select(f => f == 1 ? 10_000_000_000L : 1_000_000L * f).ToArray();
        inTimeOrder = frames.Zip(times).OrderBy(p => p.Second).ToArray();
        ms.SetLength(0);
        writer = new PcapFileWriter(1, 4096, null);
        outcome = await PcapExporter.WriteAsync(Source(), writer, ms, new PcapExportOptions { ReorderFrames = 8 }, CancellationToken.None);
        Assert.Equal(1, outcome.OutOfOrder);
        var written = ReadFramesOf(ms).Select(FrameNumber).ToList();
        Assert.Equal(frames.Skip(1), written.Where(f => f != 1));
        Assert.InRange(written.IndexOf(1), 400 - 50 - 8, 399);
    }

    [Fact]
    public async Task AFrameLargerThanAChunkIsWrittenWholeInBothFormats()
    {
        async IAsyncEnumerable<RecordBatch> Source()
        {
            yield return Batch([1, 2, 3], [10, 20, 30], 9000);
            await Task.CompletedTask;
        }
        foreach (CaptureFileWriter writer in new CaptureFileWriter[] { new PcapFileWriter(1, 4096, null), new PcapNgFileWriter(4096, null) })
        {
            using var ms = new MemoryStream();
            await PcapExporter.WriteAsync(Source(), writer, ms, new PcapExportOptions(), CancellationToken.None);
            var frames = ReadFramesOf(ms);
            Assert.Equal([1L, 2, 3], frames.Select(FrameNumber));
            Assert.All(frames, f => Assert.Equal((9000, 9004), (f.Data.Length, f.OriginalLength)));
            Assert.Equal([10L, 20, 30], frames.Select(f => f.TimestampNs));
        }
    }

    [Fact]
    public async Task RowsNoCaptureHoldsAreLeftOutOrRepairedWithoutFailingTheExport()
    {
        // Rows a client stored with DoPut: a time before 1970, one past pcap's 32-bit seconds (2128), and original
        // lengths shorter than the bytes (-1, 3). Before, one such row made every export covering it throw.
        long[] times = [-5, 10, 30, 5_000_000_000_000_000_000];
        var batch = Batch([1, 2, 3, 4], times, 64);
        var arrays = batch.Arrays.ToList();
        arrays[5] = new Int64Array.Builder().AppendRange([68, -1, 3, 68]).Build();
        batch = new RecordBatch(batch.Schema, arrays, batch.Length);
        async IAsyncEnumerable<RecordBatch> Source()
        {
            yield return batch;
            await Task.CompletedTask;
        }
        foreach (CaptureFileWriter writer in new CaptureFileWriter[] { new PcapFileWriter(1, 4096, null), new PcapNgFileWriter(4096, null) })
        {
            using var ms = new MemoryStream();
            var outcome = await PcapExporter.WriteAsync(Source(), writer, ms, new PcapExportOptions(), CancellationToken.None);
            var frames = ReadFramesOf(ms);
            long[] expected = writer is PcapFileWriter ? [2, 3] : [2, 3, 4];
            Assert.Equal(expected, frames.Select(FrameNumber));
            Assert.Equal(4 - expected.Length, outcome.TimeOutOfRange);
            Assert.Equal(2, writer.ShortOriginalLengths);
            Assert.All(frames.Where(f => FrameNumber(f) is 2 or 3), f => Assert.Equal(64, f.OriginalLength));
        }
    }

    private static List<Frame> ReadFramesOf(MemoryStream ms)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, ms.ToArray());
            return ReadFrames(path);
        }
        finally { File.Delete(path); }
    }

    internal static string Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }
}
