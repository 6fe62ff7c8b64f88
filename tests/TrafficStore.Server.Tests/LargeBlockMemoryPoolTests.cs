using System.Buffers;
using System.IO.Pipelines;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store.Tables;

namespace TrafficStore.Server.Tests;

public class LargeBlockMemoryPoolTests
{
    private const int Block = 64 << 10;

    [Fact]
    public void RentGivesWholeBlocksAndReusesReturnedOnes()
    {
        using var pool = new LargeBlockMemoryPool(Block, maxRetainedBlocks: 4);
        var first = pool.Rent(4096);
        Assert.Equal(Block, first.Memory.Length);
        Assert.Equal(Block, pool.Rent().Memory.Length); // -1: the pool's size
        first.Memory.Span[0] = 42;
        var array = first.Memory;
        first.Dispose();
        Assert.Equal(1, pool.FreeBlocks);

        var again = pool.Rent(Block);
        Assert.True(again.Memory.Span.Overlaps(array.Span)); // the same block, not a new one
        Assert.Equal(2, pool.BlocksAllocated);
        Assert.Equal(0, pool.FreeBlocks);
    }

    [Fact]
    public void ReturnedBlocksBeyondTheCapAreNotKept()
    {
        using var pool = new LargeBlockMemoryPool(Block, maxRetainedBlocks: 2);
        var rented = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        foreach (var b in rented) b.Dispose();
        Assert.Equal(2, pool.FreeBlocks);
        Assert.Equal(5, pool.BlocksAllocated);
    }

    [Fact]
    public void DisposingARentalTwiceReturnsItOnceAndItsMemoryIsNoLongerUsable()
    {
        using var pool = new LargeBlockMemoryPool(Block, maxRetainedBlocks: 4);
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();
        Assert.Equal(1, pool.FreeBlocks);
        Assert.Throws<ObjectDisposedException>(() => block.Memory);
        var a = pool.Rent();
        var b = pool.Rent();
        Assert.False(a.Memory.Span.Overlaps(b.Memory.Span));
        Assert.Equal(2, pool.BlocksAllocated);
    }

    [Fact]
    public void LargerRentsThanABlockAreRefusedAndADisposedPoolKeepsNothing()
    {
        var pool = new LargeBlockMemoryPool(Block, maxRetainedBlocks: 4);
        Assert.Equal(Block, pool.MaxBufferSize);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(Block + 1));
        var block = pool.Rent();
        pool.Dispose();
        block.Dispose();
        Assert.Equal(0, pool.FreeBlocks);
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
        Assert.Throws<ArgumentOutOfRangeException>(() => new LargeBlockMemoryPool(1024, 4));
    }

    [Fact]
    public async Task APipeOverThePoolCarriesSmallAndLargeWritesUnchanged()
    {
        // Kestrel's pipes: spans up to a block come from the pool, larger ones from the shared array pool.
        using var pool = new LargeBlockMemoryPool(Block, maxRetainedBlocks: 64);
        var pipe = new Pipe(new PipeOptions(pool, minimumSegmentSize: 4096, pauseWriterThreshold: 0));
        var data = new byte[3 << 20];
        new Random(3).NextBytes(data);
        int[] pieces = [9, 16384, 1, 70000, Block, 1_000_000, 5, 300_000];
        int offset = 0, k = 0;
        while (offset < data.Length)
        {
            int n = Math.Min(pieces[k++ % pieces.Length], data.Length - offset);
            if (k % 2 == 0)
            {
                var span = pipe.Writer.GetSpan(n);
                data.AsSpan(offset, n).CopyTo(span);
                pipe.Writer.Advance(n);
            }
            else pipe.Writer.Write(data.AsSpan(offset, n));
            offset += n;
            await pipe.Writer.FlushAsync();
        }
        await pipe.Writer.CompleteAsync();
        var read = new MemoryStream();
        while (true)
        {
            var result = await pipe.Reader.ReadAsync();
            foreach (var segment in result.Buffer) read.Write(segment.Span);
            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) break;
        }
        await pipe.Reader.CompleteAsync();
        Assert.True(read.ToArray().AsSpan().SequenceEqual(data));
        Assert.True(pool.BlocksAllocated > 0);
        Assert.Equal(pool.BlocksAllocated, pool.FreeBlocks); // every block came back
    }

    [Fact]
    public async Task KestrelServesStockClientsThroughThePoolAndWithoutIt()
    {
        foreach (int blockBytes in new[] { Block, 0 })
        {
            await using var s = await TestServer.StartAsync(configure: o => o with { MemoryBlockBytes = blockBytes });
            var table = TrafficTables.Get(TrafficTables.Payloads);
            var body = new byte[1_500_000];
            new Random(11).NextBytes(body);
            var ts = new TimestampArray.Builder(new Apache.Arrow.Types.TimestampType(Apache.Arrow.Types.TimeUnit.Nanosecond, "UTC"));
            var ids = new Int64Array.Builder();
            var bodies = new BinaryArray.Builder();
            for (int i = 0; i < 3; i++)
            {
                ts.Append(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000 + i));
                ids.Append(i + 1);
                bodies.Append(body.AsSpan(i * 1000));
            }
            var schema = new Schema([table.Schema.GetFieldByName("ts"), table.Schema.GetFieldByName("exchange_id"), table.Schema.GetFieldByName("body")], null);
            var put = await s.Client.StartPut(FlightDescriptor.CreatePathDescriptor(TrafficTables.Payloads), schema, TestServer.Auth(TestServer.Writer));
            await put.RequestStream.WriteAsync(new RecordBatch(schema, [ts.Build(), ids.Build(), bodies.Build()], 3));
            await put.RequestStream.CompleteAsync();
            Assert.True(await put.ResponseStream.MoveNext(CancellationToken.None));

            // Several stock clients at once, each on its own connection, .NET's default window.
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            {
                using var channel = GrpcChannel.ForAddress(s.Server.Address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20 });
                using var call = new FlightClient(channel).GetStream(new FlightTicket("payloads select exchange_id, body"), TestServer.Auth(TestServer.Admin));
                var got = new Dictionary<long, byte[]>();
                while (await call.ResponseStream.MoveNext())
                {
                    using var b = call.ResponseStream.Current;
                    for (int i = 0; i < b.Length; i++)
                        got[((Int64Array)b.Column(0)).GetValue(i)!.Value] = ((BinaryArray)b.Column(1)).GetBytes(i).ToArray();
                }
                return got;
            }));
            foreach (var got in results)
            {
                Assert.Equal(3, got.Count);
                for (int i = 0; i < 3; i++) Assert.True(got[i + 1].AsSpan().SequenceEqual(body.AsSpan(i * 1000)));
            }
            if (blockBytes > 0)
            {
                // Kestrel's socket transport took its pool from the factory the server registered.
                var pools = s.Server.MemoryPools!.Created;
                Assert.NotEmpty(pools);
                Assert.True(pools.Sum(p => p.BlocksAllocated) > 0);
                Assert.All(pools, p => Assert.Equal(blockBytes, p.BlockBytes));
            }
            else Assert.Null(s.Server.MemoryPools);
        }
    }
}
