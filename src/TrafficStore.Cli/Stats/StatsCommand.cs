using System.CommandLine;
using System.Globalization;
using TrafficStore.Cli.Query;

namespace TrafficStore.Cli.Stats;

/// <summary>`trafficstore stats`: per-table rows, segments and bytes, WAL, index and retention counters, health.</summary>
public static class StatsCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var command = new Command("stats", "Print what the store holds.") { store, server };
        command.SetAction(parse => CliErrors.Guard("stats", stderr, () =>
        {
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            var status = client.Value.GetStatsAsync().GetAwaiter().GetResult();
            var s = status.Engine;
            stdout.WriteLine("table\trows\tsegments\tpartitions\tbytes_on_disk\traw_bytes\tratio\tfirst\tlast");
            foreach (var t in s.Tables.Values.OrderBy(t => t.Table, StringComparer.Ordinal))
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{t.Table}\t{t.Rows}\t{t.Segments}\t{t.Partitions}\t{t.BytesOnDisk}\t{t.RawBytes}\t{t.CompressionRatio:F2}\t{Time(t.MinTime)}\t{Time(t.MaxTime)}"));
            stdout.WriteLine($"wal_bytes {s.WalBytes}, wal_commits {s.WalCommits}, index_entries {s.IndexEntries}, flushes {s.Flushes}");
            stdout.WriteLine($"retention: deleted_segments {s.RetentionDeletedSegments}, rewritten_segments {s.RetentionRewrittenSegments}, deleted_rows {s.RetentionDeletedRows}, deleted_bytes {s.RetentionDeletedBytes}");
            stdout.WriteLine($"health: {(status.Health.Healthy ? "healthy" : "degraded")}, quarantined segments {status.Health.Quarantined.Count}");
            foreach (var q in status.Health.Quarantined) stdout.WriteLine($"quarantined: {q.Table} segment {q.SegmentId}: {q.Reason} ({q.QuarantinePath})");
            if (status.Health.WriteFailure is string failure) stdout.WriteLine($"writes refused: {failure}");
            foreach (var note in status.Health.RecoveryNotes) stdout.WriteLine($"recovery: {note}");
            return CliApp.ExitOk;
        }));
        return command;
    }

    private static string Time(long? ns) => ns is long v ? DateTimeOffset.UnixEpoch.AddTicks(v / 100).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture) : "";
}
