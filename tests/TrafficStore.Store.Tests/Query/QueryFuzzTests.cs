using TrafficStore.Store.Tests.Support;
using TrafficStore.Store.Query;

namespace TrafficStore.Store.Tests.Query;

/// <summary>
/// Hostile queries in both forms: each one parses and translates, or fails with a
/// <see cref="QueryException"/> (Flight InvalidArgument) whose message says what is wrong —
/// never another exception type, never unbounded work.
/// </summary>
public class QueryFuzzTests
{
    private const long Now = 1_700_000_000_000_000_000;

    [Fact]
    public void EveryHostileQueryParsesOrFailsWithAQueryException()
    {
        var failures = new List<string>();
        int inputs = 0, accepted = 0;
        foreach (var text in HostileQueries.All())
        {
            inputs++;
            // CPU time of this thread (parsing is synchronous): unbounded work shows in it, a loaded machine does not.
            var started = ThreadCpuClock.Now();
            try
            {
                var q = QueryParser.Parse(text, Now);
                QueryTranslator.Translate(q);
                QueryTranslator.ColumnOrderOf(q);
                accepted++;
            }
            catch (QueryException e)
            {
                if (e.Message.Length < 10) failures.Add($"vague message '{e.Message}' for {Show(text)}");
            }
            catch (Exception e)
            {
                failures.Add($"{e.GetType().Name}: {e.Message} for {Show(text)}");
            }
            var spent = ThreadCpuClock.Now() - started;
            if (spent > TimeSpan.FromSeconds(1)) failures.Add($"took {spent.TotalMilliseconds:F0} CPU ms: {Show(text)}");
        }
        Assert.True(inputs > 5_000, $"only {inputs} inputs");
        Assert.True(accepted > 100, $"only {accepted} of {inputs} inputs were accepted: the generator lost its valid queries");
        Assert.True(failures.Count == 0, $"{failures.Count} of {inputs} inputs failed:\n" + string.Join("\n", failures.Take(40)));
    }

    [Theory]
    [InlineData("http from .", "'.'")]
    [InlineData("connections where last_ts='.'", "not a time")]
    [InlineData("connections where ttfb=9223372036854775807", "out of range")]
    [InlineData("connections where duration > 1e300", "duration")]
    [InlineData("connections where duration < NaN", "duration")]
    [InlineData("""{"table":"http","version":1.5}""", "version")]
    [InlineData("""{"table":"http","version":1e400}""", "version")]
    [InlineData("""{"table":"http","desc":"yes"}""", "desc")]
    [InlineData("""{"table":"http","where":{"status":{}}}""", "status")]
    public void BugsFoundByTheFuzzerAreClearErrors(string text, string mentions)
    {
        var e = Assert.Throws<QueryException>(() => QueryTranslator.Translate(QueryParser.Parse(text, Now)));
        Assert.Contains(mentions, e.Message);
    }

    [Fact]
    public void AnUnpairedSurrogateInTheJsonFormIsAClearError()
    {
        // Not an InlineData: the test runner re-encodes lone surrogates in theory arguments.
        var e = Assert.Throws<QueryException>(() => QueryParser.Parse("{\"table\":\"http\uD800\"}", Now));
        Assert.Contains("surrogate", e.Message);
    }

    [Fact]
    public void EpochSecondsWithoutAWholePartAreSecondsPastTheEpoch()
    {
        Assert.Equal(500_000_000L, QueryTime.Parse(".5", Now));
        Assert.Equal(5_000_000_000L, QueryTime.Parse("5.", Now));
    }

    private static string Show(string text) => text.Length > 120 ? System.Text.Json.JsonSerializer.Serialize(text[..120]) + $"... ({text.Length} chars)" : System.Text.Json.JsonSerializer.Serialize(text);
}
