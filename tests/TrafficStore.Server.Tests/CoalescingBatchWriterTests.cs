using System.Threading.Channels;
using Apache.Arrow;
using TrafficStore.Server.Flight;

namespace TrafficStore.Server.Tests;

/// <summary>When DoGet flushes: pending small batches share a flush, a batch the engine has not made yet never holds back one it has.</summary>
public class CoalescingBatchWriterTests
{
    private sealed class RecordingSink : IRecordBatchSink
    {
        public List<string> Calls { get; } = [];
        public Task StartAsync(Schema schema) { Calls.Add("schema"); return Task.CompletedTask; }
        public Task WriteAsync(RecordBatch batch, bool flush)
        {
            Calls.Add($"write {batch.Length}{(flush ? " flush" : "")}");
            return Task.CompletedTask;
        }
        public Task FlushAsync() { Calls.Add("flush"); return Task.CompletedTask; }
        public void Dispose() { }
    }

    private static RecordBatch Batch(int rows, int bytesPerRow)
    {
        var values = new BinaryArray.Builder();
        for (int i = 0; i < rows; i++) values.Append(new byte[bytesPerRow].AsSpan());
        return new RecordBatch(new Schema([new Field("body", Apache.Arrow.Types.BinaryType.Default, true)], null), [values.Build()], rows);
    }

    [Fact]
    public async Task BatchesReadyTogetherShareOneFlushAndTheLastGoesWithTheTrailers()
    {
        var channel = Channel.CreateUnbounded<RecordBatch>();
        channel.Writer.TryWrite(Batch(3, 100));
        channel.Writer.TryWrite(Batch(2, 100));
        channel.Writer.TryWrite(Batch(1, CoalescingBatchWriter.FlushBytes));
        channel.Writer.TryWrite(Batch(4, 100));
        channel.Writer.Complete();
        var sink = new RecordingSink();

        long rows = await CoalescingBatchWriter.WriteAllAsync(channel.Reader, sink, CancellationToken.None);

        Assert.Equal(10, rows);
        // The third batch brings the pending bytes past FlushBytes; the fourth is pending when the result ends.
        Assert.Equal(["write 3", "write 2", "write 1 flush", "write 4"], sink.Calls);
    }

    [Fact]
    public async Task WhatIsPendingIsFlushedBeforeWaitingForTheEngine()
    {
        // Synchronous continuations: each TryWrite runs the writer until it waits again, so the order is exact.
        var channel = Channel.CreateUnbounded<RecordBatch>(new UnboundedChannelOptions { AllowSynchronousContinuations = true });
        var sink = new RecordingSink();
        var writing = CoalescingBatchWriter.WriteAllAsync(channel.Reader, sink, CancellationToken.None);
        Assert.Empty(sink.Calls); // nothing to write yet, and nothing pending to flush

        channel.Writer.TryWrite(Batch(3, 100));
        // The writer sends the batch, finds no next one ready and flushes before waiting for it.
        Assert.Equal(["write 3", "flush"], sink.Calls);
        Assert.False(writing.IsCompleted);

        channel.Writer.TryWrite(Batch(2, 100));
        Assert.Equal(["write 3", "flush", "write 2", "flush"], sink.Calls);
        channel.Writer.Complete();
        Assert.Equal(5, await writing);
        Assert.Equal(4, sink.Calls.Count); // nothing pending at the end: no further flush
    }

    [Fact]
    public async Task AnEngineErrorEndsTheWriteWithIt()
    {
        var channel = Channel.CreateUnbounded<RecordBatch>();
        channel.Writer.TryWrite(Batch(1, 10));
        channel.Writer.Complete(new InvalidOperationException("segment corrupt"));
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => CoalescingBatchWriter.WriteAllAsync(channel.Reader, new RecordingSink(), CancellationToken.None));
        Assert.Equal("segment corrupt", e.Message);
    }
}
