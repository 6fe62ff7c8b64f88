using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace TrafficStore.Server.Hosting;

/// <summary>
/// The memory pool Kestrel's socket transport gives every connection (its input and output pipes and each HTTP/2
/// stream's response pipe), with blocks of <see cref="BlockBytes"/> instead of Kestrel's 4 KiB. A DoGet answer of
/// megabytes goes through the connection's output pipe in HTTP/2 DATA frames: with 4 KiB blocks every 16 KiB frame
/// is split over five blocks, each rented, copied into piecewise and returned, and every socket send is an iovec of
/// dozens of blocks (each pinned for the call by the socket layer). Larger blocks cut those per-block costs; the bytes
/// copied are the same.
/// <para>
/// Blocks are pinned arrays (the pinned object heap), so the socket layer need not pin them again. The pool keeps
/// at most <see cref="MaxRetainedBlocks"/> returned blocks; a block returned beyond that is left to the GC, so memory
/// held after a burst is bounded. A connection holds blocks only while it has bytes to read or send (Kestrel waits for
/// data before it rents a read buffer), so an idle connection holds none.
/// </para>
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private volatile bool _disposed;

    public LargeBlockMemoryPool(int blockBytes, int maxRetainedBlocks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockBytes, 4096);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBlocks);
        BlockBytes = blockBytes;
        MaxRetainedBlocks = maxRetainedBlocks;
    }

    public int BlockBytes { get; }

    public int MaxRetainedBlocks { get; }

    /// <summary>
    /// A pipe asks for a span larger than this from the shared array pool instead; Kestrel asks for segments of
    /// min(4096, this) and uses the whole block it gets.
    /// </summary>
    public override int MaxBufferSize => BlockBytes;

    /// <summary>Blocks waiting in the pool (for tests and diagnostics).</summary>
    internal int FreeBlocks => Volatile.Read(ref _freeCount);

    /// <summary>Blocks allocated because the pool had none free (for tests and diagnostics).</summary>
    internal long BlocksAllocated => Interlocked.Read(ref _allocated);

    private long _allocated;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (minBufferSize > BlockBytes)
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"the pool's blocks are {BlockBytes} bytes");
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Rented = true;
            return block;
        }
        Interlocked.Increment(ref _allocated);
        return new Block(this, GC.AllocateUninitializedArray<byte>(BlockBytes, pinned: true));
    }

    private void Return(Block block)
    {
        // After the pool is disposed, or beyond the cap, the block goes to the GC.
        if (_disposed) return;
        if (Interlocked.Increment(ref _freeCount) > MaxRetainedBlocks)
        {
            Interlocked.Decrement(ref _freeCount);
            return;
        }
        _free.Enqueue(block);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
        Volatile.Write(ref _freeCount, 0);
    }

    private sealed class Block(LargeBlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        // Pipes read Memory on every GetMemory/GetSpan: built once, not per call.
        private readonly Memory<byte> _memory = array;

        internal bool Rented = true;

        public Memory<byte> Memory => Rented ? _memory : throw new ObjectDisposedException(nameof(Block), "the block was returned to its pool");

        public void Dispose()
        {
            // A second Dispose of the same rental must not put the block in the pool twice.
            if (!Rented) return;
            Rented = false;
            pool.Return(this);
        }
    }
}

/// <summary>
/// Supplies <see cref="LargeBlockMemoryPool"/>s to Kestrel: registered as the <see cref="IMemoryPoolFactory{T}"/>
/// service, it is what the socket transport creates its pool with (.NET 10).
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory(int blockBytes, long maxRetainedBytes) : IMemoryPoolFactory<byte>
{
    private readonly List<LargeBlockMemoryPool> _created = [];

    /// <summary>The pools this factory made (for tests and diagnostics; Kestrel makes one per transport).</summary>
    internal IReadOnlyList<LargeBlockMemoryPool> Created
    {
        get { lock (_created) return [.. _created]; }
    }

    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var pool = new LargeBlockMemoryPool(blockBytes, (int)Math.Clamp(maxRetainedBytes / blockBytes, 1, int.MaxValue));
        lock (_created) _created.Add(pool);
        return pool;
    }
}
