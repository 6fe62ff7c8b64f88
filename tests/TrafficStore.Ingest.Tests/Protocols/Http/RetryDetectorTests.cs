using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Tests.Protocols.Http;

public class RetryDetectorTests
{
    private static HttpExchange Request(long connection, string ip, string uri, long ms, string method = "GET") => new()
    {
        ConnectionId = connection,
        ClientIp = ip,
        Method = method,
        Host = "h",
        Uri = uri,
        RequestFirstByteNs = ms * 1_000_000,
    };

    [Fact]
    public void SameRequestOnTheSameConnectionIsARetry()
    {
        var d = new RetryDetector();
        Assert.False(d.Observe(Request(1, "10.0.0.1", "/a", 0)));
        Assert.False(d.Observe(Request(1, "10.0.0.1", "/b", 10)));
        Assert.True(d.Observe(Request(1, "10.0.0.1", "/a", 60_000)));
    }

    [Fact]
    public void SameClientOnANewConnectionIsARetryOnlyWithinTheWindow()
    {
        var d = new RetryDetector(new RetryOptions { ClientWindow = TimeSpan.FromSeconds(1) });
        Assert.False(d.Observe(Request(1, "10.0.0.1", "/a", 0)));
        Assert.True(d.Observe(Request(2, "10.0.0.1", "/a", 900)));
        Assert.False(d.Observe(Request(3, "10.0.0.1", "/a", 2500)));
        Assert.False(d.Observe(Request(4, "10.0.0.2", "/a", 2600)));
        Assert.False(d.Observe(Request(5, "10.0.0.1", "/a", 2700, "POST")));
    }

    [Fact]
    public void ConnectionWindowLimitsSameConnectionRepeats()
    {
        var d = new RetryDetector(new RetryOptions { ConnectionWindow = TimeSpan.FromSeconds(5) });
        Assert.False(d.Observe(Request(1, "10.0.0.1", "/a", 0)));
        Assert.False(d.Observe(Request(1, "10.0.0.1", "/a", 10_000)));
        Assert.True(d.Observe(Request(1, "10.0.0.1", "/a", 11_000)));
    }

    [Fact]
    public void ResponseOnlyRowsAreNeverRetriesAndMemoryIsBounded()
    {
        var d = new RetryDetector(new RetryOptions { MaxTracked = 10 });
        Assert.False(d.Observe(new HttpExchange { Status = 200 }));
        for (int i = 0; i < 1000; i++) d.Observe(Request(i, "10.0.0.1", "/" + i, i * 2000));
        d.ForgetConnection(999);
        Assert.False(d.Observe(Request(999, "10.0.0.9", "/999", 10_000_000)));
    }
}
