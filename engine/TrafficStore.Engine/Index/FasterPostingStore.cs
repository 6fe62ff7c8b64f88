using FASTER.core;

namespace TrafficStore.Engine.Index;

/// <summary>
/// A byte-keyed, byte-valued store on FASTER's FasterKV (hybrid log): recent records in memory,
/// older ones spilled to <c>index/postings.log</c>, so the index can outgrow memory. It is
/// deliberately not checkpointed: the engine rebuilds it from segment footers on every open
/// (the footers are the source of truth), so the folder is wiped when the store opens.
/// One session guarded by a lock: index operations are short and rare next to data reads.
/// </summary>
internal sealed class FasterPostingStore : IDisposable
{
    private readonly IDevice _device;
    private readonly FasterKV<SpanByte, SpanByte> _store;
    private readonly ClientSession<SpanByte, SpanByte, SpanByte, byte[], Empty, SpanByteFunctions_ByteArrayOutput<Empty>> _session;
    private readonly object _lock = new();
    private bool _disposed;

    public FasterPostingStore(string directory, long memoryBytes)
    {
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        _device = Devices.CreateLogDevice(Path.Combine(directory, "postings.log"), preallocateFile: false, deleteOnClose: true);
        // Memory for the log in pages of at most 4 MiB; FASTER needs at least two pages in memory.
        int memoryBits = Math.Clamp(63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)Math.Max(memoryBytes, 1)), 18, 40);
        int pageBits = Math.Min(22, memoryBits - 2);
        _store = new FasterKV<SpanByte, SpanByte>(1L << 16, new LogSettings { LogDevice = _device, MemorySizeBits = memoryBits, PageSizeBits = pageBits });
        _session = _store.For(new SpanByteFunctions_ByteArrayOutput<Empty>()).NewSession<SpanByteFunctions_ByteArrayOutput<Empty>>();
    }

    public byte[]? Get(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            SpanByte input = default;
            byte[] output = null!;
            var status = _session.Read(key, ref input, ref output);
            if (status.IsPending)
            {
                // The record was evicted to the log file: wait for the read.
                _session.CompletePendingWithOutputs(out var completed, wait: true);
                byte[]? found = null;
                using (completed)
                    while (completed.Next())
                        if (completed.Current.Status.Found) found = completed.Current.Output;
                return found;
            }
            return status.Found ? output : null;
        }
    }

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _session.Upsert(key, value);
        }
    }

    public void Delete(ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _session.Delete(key);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _session.Dispose();
            _store.Dispose();
            _device.Dispose(); // deletes the log file (deleteOnClose)
        }
    }
}
