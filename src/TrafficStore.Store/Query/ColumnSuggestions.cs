namespace TrafficStore.Store.Query;

/// <summary>
/// The names to suggest for a column a query names that its table lacks: the usual words for a column that this store
/// calls otherwise (<c>path</c> is <c>uri</c>, or the <c>path_prefix</c> filter; <c>status_code</c> is <c>status</c>),
/// names that contain the word or are contained in it (<c>port</c>: client_port, server_port), and names within a few
/// edits (typos: <c>methdo</c> → method), nearest first, as PostgreSQL's "Perhaps you meant" and DuckDB's
/// "Candidate bindings" do.
/// </summary>
public static class ColumnSuggestions
{
    /// <summary>Most names suggested.</summary>
    public const int MaxSuggestions = 3;

    /// <summary>Words users reach for → what this store calls the thing (a column or a logical field).</summary>
    private static readonly Dictionary<string, string[]> Synonyms = new(StringComparer.OrdinalIgnoreCase)
    {
        ["path"] = ["uri", "path_prefix"],
        ["url"] = ["uri", "path_prefix"],
        ["status_code"] = ["status"],
        ["code"] = ["status", "rcode"],
        ["src"] = ["client_ip"],
        ["src_ip"] = ["client_ip"],
        ["source_ip"] = ["client_ip"],
        ["dst"] = ["server_ip"],
        ["dst_ip"] = ["server_ip"],
        ["dest_ip"] = ["server_ip"],
        ["destination_ip"] = ["server_ip"],
        ["src_port"] = ["client_port"],
        ["dst_port"] = ["server_port"],
        ["dest_port"] = ["server_port"],
        ["duration"] = ["latency", "duration"],
        ["timestamp"] = ["ts", "time"],
        ["sni"] = ["server_name"],
        ["hostname"] = ["host", "server_name"],
    };

    /// <summary>Up to <see cref="MaxSuggestions"/> of <paramref name="candidates"/> nearest to <paramref name="name"/>.</summary>
    public static IReadOnlyList<string> For(string name, IEnumerable<string> candidates)
    {
        ArgumentNullException.ThrowIfNull(name);
        var known = candidates.Distinct(StringComparer.Ordinal).ToList();
        var word = name.ToLowerInvariant();
        var ranked = new List<(string Name, int Rank, int Distance)>();
        int synonymRank = 0;
        if (Synonyms.TryGetValue(word, out var synonyms))
            foreach (var s in synonyms)
                if (known.Contains(s)) ranked.Add((s, 0, synonymRank++));
        int maxEdits = Math.Max(1, word.Length / 3);
        foreach (var c in known)
        {
            if (ranked.Any(r => r.Name == c)) continue;
            int distance = EditDistance(word, c);
            if (distance <= maxEdits) ranked.Add((c, 1, distance));
            else if (word.Length >= 2 && (Tokens(c).Contains(word) || Tokens(word).Contains(c))) ranked.Add((c, 2, c.Length));
        }
        return ranked.OrderBy(r => r.Rank).ThenBy(r => r.Distance).ThenBy(r => r.Name, StringComparer.Ordinal)
            .Take(MaxSuggestions).Select(r => r.Name).ToList();
    }

    /// <summary>"; did you mean 'a', 'b' or 'c'?", or empty when nothing is near.</summary>
    public static string DidYouMean(string name, IEnumerable<string> candidates)
    {
        var names = For(name, candidates).Select(n => $"'{n}'").ToList();
        return names.Count switch
        {
            0 => "",
            1 => $"; did you mean {names[0]}?",
            _ => $"; did you mean {string.Join(", ", names.Take(names.Count - 1))} or {names[^1]}?",
        };
    }

    private static string[] Tokens(string name) => name.Split('_', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
