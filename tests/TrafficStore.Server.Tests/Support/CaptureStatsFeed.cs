using Apache.Arrow;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests.Support;

/// <summary>
/// DoPut input for tests that exercise ingest itself rather than a table's content: capture_stats rows are the smallest
/// a node agent sends, and each row's frame count (<c>first</c>, <c>first + 1</c>, …) tells which were stored.
/// </summary>
internal static class CaptureStatsFeed
{
    public static RecordBatch Rows(string source, long captureId, int first, int rows) =>
        new ArrowBatchBuilder<CaptureStatsRow>(TrafficTables.CaptureStatsDefinition).Build(Enumerable.Range(first, rows).Select(i => new CaptureStatsRow
        {
            StartedNs = 1_700_000_000_000_000_000L + i,
            CaptureId = captureId,
            Source = source,
            State = "running",
            Frames = i,
        }).ToList());
}
