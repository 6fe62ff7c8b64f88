using System.CommandLine;
using System.Globalization;
using TrafficStore.Cli.Query;
using TrafficStore.Engine.Retention;

namespace TrafficStore.Cli.Retention;

/// <summary>
/// `trafficstore retention list`, `retention set [--namespace NS] [--max-age 7d] [--max-bytes 100G]`
/// (a limit of "none" removes it), `retention apply`.
/// </summary>
public static class RetentionCommand
{
    public static Command Build(TextWriter stdout, TextWriter stderr)
    {
        var retention = new Command("retention", "Show, change and apply the retention policy.");

        var store = StoreAccess.StoreOption();
        var server = StoreAccess.ServerOption();
        var list = new Command("list", "Print the retention policy.") { store, server };
        list.SetAction(parse => CliErrors.Guard("retention list", stderr, () =>
        {
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store)!, parse.GetValue(server)));
            var policy = client.Value.GetRetentionPolicyAsync().GetAwaiter().GetResult();
            stdout.WriteLine("scope\tmax_age\tmax_bytes");
            stdout.WriteLine($"global\t{Age(policy.Global.MaxAge)}\t{Bytes(policy.Global.MaxBytes)}");
            foreach (var (ns, limits) in policy.Namespaces.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                stdout.WriteLine($"namespace {ns}\t{Age(limits.MaxAge)}\t{Bytes(limits.MaxBytes)}");
            return CliApp.ExitOk;
        }));

        var store2 = StoreAccess.StoreOption();
        var server2 = StoreAccess.ServerOption();
        var maxAge = new Option<string?>("--max-age") { Description = "Delete data older than this: 30m, 12h, 7d, or none." };
        var maxBytes = new Option<string?>("--max-bytes") { Description = "Keep at most this many bytes: 500M, 100G, 1T, a number, or none." };
        var ns = new Option<string?>("--namespace") { Description = "Set the limits of this Kubernetes namespace instead of the global ones." };
        var set = new Command("set", "Change the retention policy (limits not given stay as they are).") { maxAge, maxBytes, ns, store2, server2 };
        set.SetAction(parse => CliErrors.Guard("retention set", stderr, () =>
        {
            string? age = parse.GetValue(maxAge), bytes = parse.GetValue(maxBytes);
            if (age is null && bytes is null) throw new CliUsageException("give --max-age and/or --max-bytes");
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store2)!, parse.GetValue(server2), create: true));
            var policy = client.Value.GetRetentionPolicyAsync().GetAwaiter().GetResult();
            string? namespaceName = parse.GetValue(ns);
            var current = namespaceName is null ? policy.Global : policy.Namespaces.GetValueOrDefault(namespaceName) ?? new RetentionLimits();
            var updated = current with
            {
                MaxAge = age is null ? current.MaxAge : ParseAge(age),
                MaxBytes = bytes is null ? current.MaxBytes : ParseBytes(bytes),
            };
            if (namespaceName is null) policy = policy with { Global = updated };
            else
            {
                var namespaces = new Dictionary<string, RetentionLimits>(policy.Namespaces);
                if (updated.MaxAge is null && updated.MaxBytes is null) namespaces.Remove(namespaceName);
                else namespaces[namespaceName] = updated;
                policy = policy with { Namespaces = namespaces };
            }
            client.Value.SetRetentionPolicyAsync(policy).GetAwaiter().GetResult();
            stdout.WriteLine($"{(namespaceName is null ? "global" : "namespace " + namespaceName)}: max_age {Age(updated.MaxAge)}, max_bytes {Bytes(updated.MaxBytes)}");
            return CliApp.ExitOk;
        }));

        var store3 = StoreAccess.StoreOption();
        var server3 = StoreAccess.ServerOption();
        var apply = new Command("apply", "Apply the retention policy now.") { store3, server3 };
        apply.SetAction(parse => CliErrors.Guard("retention apply", stderr, () =>
        {
            using var client = new ClientScope(StoreAccess.Open(parse.GetValue(store3)!, parse.GetValue(server3)));
            var report = client.Value.ApplyRetentionAsync().GetAwaiter().GetResult();
            foreach (var a in report.Actions)
                stdout.WriteLine($"{(a.Kind == RetentionActionKind.DeletedSegment ? "deleted" : "rewrote")} {a.Table} segment {a.SegmentId} ({a.RowsDeleted} rows, {a.BytesFreed} bytes){(a.Namespace is null ? "" : " namespace " + a.Namespace)}: {a.Reason}");
            stdout.WriteLine($"{report.Actions.Count} actions, {report.RowsDeleted} rows, {report.BytesFreed} bytes freed");
            return CliApp.ExitOk;
        }));

        retention.Subcommands.Add(list);
        retention.Subcommands.Add(set);
        retention.Subcommands.Add(apply);
        return retention;
    }

    public static TimeSpan? ParseAge(string text, string flag = "--max-age")
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "none") return null;
        if (t.Length >= 2 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0)
        {
            double? seconds = t[^1] switch { 's' => n, 'm' => n * 60, 'h' => n * 3600, 'd' => n * 86400, 'w' => n * 7 * 86400, _ => null };
            // TimeSpan ends at ~29,000 years (TimeSpan.FromSeconds threw OverflowException, a stack trace to the user).
            if (seconds is >= 9e11) throw new CliUsageException($"{flag} '{text}' is longer than the ~29,000 years a duration can hold (use none for no limit)");
            if (seconds is { } s) return TimeSpan.FromSeconds(s);
        }
        throw new CliUsageException($"{flag} '{text}' is not a duration (e.g. 30m, 12h, 7d or none)");
    }

    public static long? ParseBytes(string text, string flag = "--max-bytes")
    {
        var t = text.Trim().ToUpperInvariant().TrimEnd('B', 'I');
        if (t == "NONE") return null;
        long unit = t.Length > 0 ? t[^1] switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, 'T' => 1L << 40, _ => 1 } : 1;
        var number = unit == 1 ? t : t[..^1];
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n > 0 && n * unit < long.MaxValue) return (long)(n * unit);
        throw new CliUsageException($"{flag} '{text}' is not a size (e.g. 500M, 100G, 1T, a number of bytes, or none)");
    }

    /// <summary>An age in the units <c>--max-age</c> takes (7d, 2h, 30m, 90s), so what `list` prints can be given back to `set`.</summary>
    public static string Age(TimeSpan? age)
    {
        if (age is not { } a) return "none";
        long ticks = a.Ticks;
        if (ticks % TimeSpan.TicksPerDay == 0) return (ticks / TimeSpan.TicksPerDay).ToString(CultureInfo.InvariantCulture) + "d";
        if (ticks % TimeSpan.TicksPerHour == 0) return (ticks / TimeSpan.TicksPerHour).ToString(CultureInfo.InvariantCulture) + "h";
        if (ticks % TimeSpan.TicksPerMinute == 0) return (ticks / TimeSpan.TicksPerMinute).ToString(CultureInfo.InvariantCulture) + "m";
        return a.TotalSeconds.ToString("0.#######", CultureInfo.InvariantCulture) + "s";
    }
    private static string Bytes(long? bytes) => bytes?.ToString(CultureInfo.InvariantCulture) ?? "none";
}
