using Apache.Arrow.Flight;
using Google.Protobuf;
using Grpc.Core;

namespace TrafficStore.Server.Flight;

/// <summary>
/// A write-only stream over a DoAction response: each write goes out as Flight results of at most
/// <see cref="MaxResultBytes"/> bytes, awaiting the response stream (gRPC flow control), so a producer
/// writing through it is held back by a slow client instead of piling data up in memory.
/// Only the async write path exists: a synchronous write would block a thread on the network.
/// </summary>
internal sealed class FlightResultStream(IAsyncStreamWriter<FlightResult> results, int maxResultBytes) : Stream
{
    public int MaxResultBytes { get; } = maxResultBytes > 0 ? maxResultBytes : throw new ArgumentOutOfRangeException(nameof(maxResultBytes));

    /// <summary>Results sent so far.</summary>
    public long Results { get; private set; }

    public long BytesSent { get; private set; }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        for (int offset = 0; offset < buffer.Length; offset += MaxResultBytes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var piece = buffer.Slice(offset, Math.Min(MaxResultBytes, buffer.Length - offset));
            await results.WriteAsync(new FlightResult(ByteString.CopyFrom(piece.Span))).ConfigureAwait(false);
            Results++;
            BytesSent += piece.Length;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush() { }

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("FlightResultStream is written asynchronously only");

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesSent; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
