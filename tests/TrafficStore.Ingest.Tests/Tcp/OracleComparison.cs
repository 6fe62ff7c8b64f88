using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.TcpAnalysis;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.TcpAnalysis;

/// <summary>Compares our connection rows with the oracle's tcp section, field by field.</summary>
public sealed class OracleComparison
{
    public int Rows { get; private set; }
    public int MatchingRows { get; private set; }
    public int Fields { get; private set; }
    public int MatchingFields { get; private set; }
    public List<string> Differences { get; } = new();

    public void Compare(string capture, OracleSection oracle, IReadOnlyList<ConnectionRecord> ours)
    {
        var byStream = ours.Where(r => r.Transport == Transport.Tcp).ToDictionary(r => r.Stream);
        var def = ConnectionsTable.Definition;
        foreach (var expected in oracle.Rows)
        {
            Rows++;
            long stream = long.Parse(expected["stream"]);
            byStream.TryGetValue(stream, out var actual);
            bool rowOk = true;
            foreach (var name in oracle.Header)
            {
                Fields++;
                string want = expected[name];
                string got = actual is null ? "<missing row>" : def[name].FormatText(actual);
                if (FieldMatches(name, want, got)) { MatchingFields++; continue; }
                rowOk = false;
                Differences.Add($"{capture} stream {stream} {name}: oracle '{want}' ours '{got}'");
            }
            if (rowOk) MatchingRows++;
        }
        foreach (var extra in byStream.Keys.Where(s => oracle.Rows.All(r => long.Parse(r["stream"]) != s)))
            Differences.Add($"{capture} stream {extra}: not in the oracle");
    }

    /// <summary>irtt within 2 µs (the oracle prints tshark's rounding); everything else exact.</summary>
    public static bool FieldMatches(string name, string want, string got)
    {
        if (want == got) return true;
        if (name == "irtt" && want.Length > 0 && got.Length > 0)
            return Math.Abs(decimal.Parse(want, System.Globalization.CultureInfo.InvariantCulture) - decimal.Parse(got, System.Globalization.CultureInfo.InvariantCulture)) <= 0.000002m;
        return false;
    }
}
