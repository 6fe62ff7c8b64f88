using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>One chunk of a two-way stream: who sent it, the bytes, and the segment it came in.</summary>
public sealed record StreamChunk(FlowDirection Direction, byte[] Data, SegmentInfo Segment);

/// <summary>
/// Feeds a stream parser the same chunks whole, byte by byte and split at every offset, so a
/// test can assert the rows do not depend on how TCP cut the bytes.
/// </summary>
public static class SplitFeeder
{
    /// <summary>Each chunk delivered in one call.</summary>
    public static void Whole(IStreamParser parser, IEnumerable<StreamChunk> chunks)
    {
        foreach (var c in chunks) parser.OnData(c.Direction, c.Data, c.Segment);
    }

    /// <summary>Each chunk delivered one byte per call (the chunk's segment info on every byte).</summary>
    public static void ByteByByte(IStreamParser parser, IEnumerable<StreamChunk> chunks)
    {
        foreach (var c in chunks)
        {
            for (int i = 0; i < c.Data.Length; i++) parser.OnData(c.Direction, c.Data.AsSpan(i, 1), c.Segment);
        }
    }

    /// <summary>Each chunk cut in two at <paramref name="split"/> (clamped to the chunk).</summary>
    public static void SplitAt(IStreamParser parser, IEnumerable<StreamChunk> chunks, int split)
    {
        foreach (var c in chunks)
        {
            int s = Math.Clamp(split, 0, c.Data.Length);
            parser.OnData(c.Direction, c.Data.AsSpan(0, s), c.Segment);
            parser.OnData(c.Direction, c.Data.AsSpan(s), c.Segment);
        }
    }

    /// <summary>Every way of feeding: whole, byte by byte, and every split point of the longest chunk.</summary>
    public static IEnumerable<(string Name, Action<IStreamParser, IReadOnlyList<StreamChunk>> Feed)> AllWays(IReadOnlyList<StreamChunk> chunks)
    {
        yield return ("whole", (p, c) => Whole(p, c));
        yield return ("byte-by-byte", (p, c) => ByteByByte(p, c));
        int longest = chunks.Max(c => c.Data.Length);
        for (int s = 1; s < longest; s++)
        {
            int split = s;
            yield return ($"split@{split}", (p, c) => SplitAt(p, c, split));
        }
    }
}

public static class TableText
{
    /// <summary>Every column of every row as the CSV outputs print it, one string per row.</summary>
    public static List<string> Rows<T>(TableDefinition<T> table, IEnumerable<T> rows) =>
        rows.Select(r => string.Join(",", table.Columns.Select(c => c.Name + "=" + c.FormatText(r)))).ToList();

    public static Dictionary<string, string> Row<T>(TableDefinition<T> table, T row) =>
        table.Columns.ToDictionary(c => c.Name, c => c.FormatText(row));
}

public static class TestFlows
{
    public static FlowContext Udp(string client = "10.0.0.1", ushort clientPort = 40000, string server = "10.0.0.53", ushort serverPort = 53, long id = 7) =>
        new(id, Transport.Udp, NetAddress.Parse(client), clientPort, NetAddress.Parse(server), serverPort);

    public static FlowContext Tcp(string client = "10.0.0.1", ushort clientPort = 40000, string server = "10.0.0.53", ushort serverPort = 53, long id = 3) =>
        new(id, Transport.Tcp, NetAddress.Parse(client), clientPort, NetAddress.Parse(server), serverPort);
}
