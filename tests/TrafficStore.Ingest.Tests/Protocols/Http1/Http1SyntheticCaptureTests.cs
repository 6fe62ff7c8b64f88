using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

/// <summary>
/// Framing edge cases the corpus lacks (HEAD with Content-Length, 204/304 with Content-Length,
/// chunked request and response with extensions and trailers, gzip, zlib deflate over chunked,
/// Expect: 100-continue, a body over several segments, h2c 101), built by
/// Synthetic/make-captures.py with text2pcap; expected rows from tshark (the oracle script), every
/// oracle column compared.
/// </summary>
public class Http1SyntheticCaptureTests
{
    private static string SyntheticDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln")))
                return Path.Combine(dir.FullName, "tests", "TrafficStore.Ingest.Tests", "Protocols", "Http1", "Synthetic");
        }
        throw new DirectoryNotFoundException("Repository root (TrafficStore.sln) not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void EdgeCaseRowsMatchTshark()
    {
        string dir = SyntheticDir();
        var expected = Csv.ReadTable(File.ReadAllText(Path.Combine(dir, "http1-edge-cases.oracle.csv")));
        var actual = Http1CorpusTests.RunFile(Path.Combine(dir, "http1-edge-cases.pcap"));
        Assert.Equal(11, expected.Count(e => e["proto"].StartsWith("HTTP/1", StringComparison.Ordinal)));
        Assert.Equal(expected.Count, actual.Count);
        var differences = new List<string>();
        foreach (var (e, row) in Http1CorpusTests.Match(expected, actual))
        {
            Assert.NotNull(row);
            foreach (var column in Http1CorpusTests.OracleColumns)
            {
                string got = Http1CorpusTests.Format(column, row!);
                if (got != e[column]) differences.Add($"stream {e["stream"]} {e["uri"]} {column}: got '{got}', tshark '{e[column]}'");
            }
        }
        Assert.Empty(differences);
        // what the oracle has no column for
        var chunked = actual.Single(r => r.Uri == "/c" && r.Method == "POST");
        Assert.Equal(new KeyValuePair<string, string>("X-Sum", "42"), Assert.Single(chunked.ResponseTrailers));
        Assert.Equal(1, actual.Single(r => r.Uri == "/up").InterimResponses);
        // no HTTP/2 parser given here: the upgraded connection is skipped as a tunnel
        Assert.Contains("upgrade_tunnel", actual.Single(r => r.Uri == "/h2").Anomalies);
    }
}
