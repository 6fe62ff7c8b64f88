using System.Text;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Ingest.Tests.Protocols.Http;

/// <summary>One delivery to a stream parser: bytes of a segment, or a gap.</summary>
public sealed record StreamStep(FlowDirection Direction, byte[]? Data, long GapBytes, SegmentInfo Segment)
{
    public static StreamStep Bytes(FlowDirection d, byte[] data, long frame) => new(d, data, 0, At(frame));
    public static StreamStep Gap(FlowDirection d, long missing, long frame) => new(d, null, missing, At(frame));

    /// <summary>Test clock: frame n is at n milliseconds past a fixed epoch.</summary>
    public static SegmentInfo At(long frame) => new(frame, 1_700_000_000_000_000_000L + frame * 1_000_000L);
}

/// <summary>
/// Builds a conversation step by step: <c>new Conversation().Client("GET / ...").Server("HTTP/1.1 200 ...")</c>.
/// Each step is one segment with the next frame number, unless a frame is given.
/// </summary>
public sealed class Conversation
{
    private long _frame;
    public List<StreamStep> Steps { get; } = new();

    public Conversation Client(string text, long? frame = null) => Add(FlowDirection.ClientToServer, Encoding.UTF8.GetBytes(text), frame);
    public Conversation Server(string text, long? frame = null) => Add(FlowDirection.ServerToClient, Encoding.UTF8.GetBytes(text), frame);
    public Conversation Client(byte[] data, long? frame = null) => Add(FlowDirection.ClientToServer, data, frame);
    public Conversation Server(byte[] data, long? frame = null) => Add(FlowDirection.ServerToClient, data, frame);

    public Conversation Gap(FlowDirection d, long missing)
    {
        Steps.Add(StreamStep.Gap(d, missing, ++_frame));
        return this;
    }

    private Conversation Add(FlowDirection d, byte[] data, long? frame)
    {
        _frame = frame ?? _frame + 1;
        Steps.Add(StreamStep.Bytes(d, data, _frame));
        return this;
    }
}

/// <summary>
/// The split-invariance check every stream-parser test goes through: the same steps are fed
/// whole, one byte per call, and split in two at every offset of every segment (each piece keeps
/// its segment's frame and time); all runs must describe identical rows.
/// </summary>
public static class StreamSplitHarness
{
    public static List<T> Run<T>(Func<IRowSink<T>, IStreamParser> create, IReadOnlyList<StreamStep> steps, Func<T, string> describe, long endTimestampNs = long.MaxValue)
    {
        var whole = Feed(create, steps, (_, _) => null, endTimestampNs);
        var expected = whole.Select(describe).ToList();

        var byteByByte = Feed(create, steps, (_, data) => Enumerable.Range(1, Math.Max(0, data.Length - 1)).ToArray(), endTimestampNs);
        AssertSame(expected, byteByByte.Select(describe).ToList(), "byte by byte");

        for (int s = 0; s < steps.Count; s++)
        {
            var data = steps[s].Data;
            if (data is null) continue;
            for (int k = 1; k < data.Length; k++)
            {
                int target = s, at = k;
                var split = Feed(create, steps, (i, _) => i == target ? new[] { at } : null, endTimestampNs);
                AssertSame(expected, split.Select(describe).ToList(), $"step {s} split at {k}");
            }
        }
        return whole;
    }

    /// <summary>Feeds the steps once, cutting step i at the offsets <paramref name="cuts"/> returns for it.</summary>
    public static List<T> Feed<T>(Func<IRowSink<T>, IStreamParser> create, IReadOnlyList<StreamStep> steps, Func<int, byte[], int[]?> cuts, long endTimestampNs = long.MaxValue)
    {
        var sink = new ListSink<T>();
        var parser = create(sink);
        for (int i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            if (step.Data is null)
            {
                parser.OnGap(step.Direction, step.GapBytes, step.Segment);
                continue;
            }
            int from = 0;
            foreach (int cut in cuts(i, step.Data) ?? Array.Empty<int>())
            {
                parser.OnData(step.Direction, step.Data.AsSpan(from, cut - from), step.Segment);
                from = cut;
            }
            parser.OnData(step.Direction, step.Data.AsSpan(from), step.Segment);
        }
        parser.OnEnd(endTimestampNs == long.MaxValue ? (steps.Count == 0 ? 0 : steps[^1].Segment.TimestampNs + 1) : endTimestampNs);
        return sink.Rows;
    }

    private static void AssertSame(List<string> expected, List<string> actual, string how)
    {
        Assert.True(expected.Count == actual.Count, $"{how}: {actual.Count} rows instead of {expected.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i] == actual[i], $"{how}: row {i} differs\nexpected: {expected[i]}\nactual:   {actual[i]}");
        }
    }
}
