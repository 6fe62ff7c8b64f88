using Grpc.Core;
using TrafficStore.Agent.Shipping;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// A server that refuses a DoPut message while the agent is still writing it (past its receive limit, past its
/// delivery-source limit, a token without the write scope) ends the call; grpc-dotnet then fails the write as Cancelled
/// unless it has already read the call's status, which a loaded machine makes likely. The shipper must act on the
/// server's status (halve its bound, keep the batch) and not on the Cancelled write: it reads the status from the response.
/// </summary>
public class RefusalDuringWriteTests
{
    /// <summary>A response stream that yields <paramref name="results"/> items and then ends, or throws <paramref name="status"/>.</summary>
    private sealed class Response(int results, Status? status) : IAsyncStreamReader<string>
    {
        public int Reads { get; private set; }
        public string Current => "put-result";

        public Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            Reads++;
            if (Reads <= results) return Task.FromResult(true);
            if (status is { } s) throw new RpcException(s);
            return Task.FromResult(false);
        }
    }

    private static Task CancelledWrite() => Task.FromException(new RpcException(new Status(StatusCode.Cancelled, "Call canceled by the client.")));

    [Theory]
    [InlineData(StatusCode.ResourceExhausted)]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.InvalidArgument)]
    public async Task AWriteCancelledByTheServersRefusal_ThrowsTheRefusal(StatusCode refusal)
    {
        var response = new Response(0, new Status(refusal, "refused"));
        var e = await Assert.ThrowsAsync<RpcException>(() => FlightShipper.WriteOrThrowCallStatusAsync(CancelledWrite, response, CancellationToken.None));
        Assert.Equal(refusal, e.StatusCode);
        Assert.Equal("refused", e.Status.Detail);
    }

    [Fact]
    public async Task AResponseThatEndsWithoutAnError_LeavesTheCancelledWrite()
    {
        var response = new Response(1, null);
        var e = await Assert.ThrowsAsync<RpcException>(() => FlightShipper.WriteOrThrowCallStatusAsync(CancelledWrite, response, CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        Assert.Equal(2, response.Reads);
    }

    [Fact]
    public async Task OurOwnAbort_IsNotTurnedIntoTheCallsStatus()
    {
        var response = new Response(0, new Status(StatusCode.ResourceExhausted, "refused"));
        using var aborted = new CancellationTokenSource();
        aborted.Cancel();
        var e = await Assert.ThrowsAsync<RpcException>(() => FlightShipper.WriteOrThrowCallStatusAsync(CancelledWrite, response, aborted.Token));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        Assert.Equal(0, response.Reads);
    }

    [Fact]
    public async Task OtherWriteFailuresAndSuccessfulWritesPassThrough()
    {
        var response = new Response(0, new Status(StatusCode.ResourceExhausted, "refused"));
        var unavailable = await Assert.ThrowsAsync<RpcException>(() => FlightShipper.WriteOrThrowCallStatusAsync(
            () => Task.FromException(new RpcException(new Status(StatusCode.Unavailable, "connection reset"))), response, CancellationToken.None));
        Assert.Equal(StatusCode.Unavailable, unavailable.StatusCode);
        await FlightShipper.WriteOrThrowCallStatusAsync(() => Task.CompletedTask, response, CancellationToken.None);
        Assert.Equal(0, response.Reads);
    }
}
