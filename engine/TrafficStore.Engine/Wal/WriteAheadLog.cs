using System.Buffers.Binary;
using System.Threading.Channels;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Wal;

/// <summary>
/// Append-only log of checksummed records with group commit: one writer loop takes every append
/// that is waiting, writes them, issues one fsync, and only then acknowledges them all.
/// Record layout (little endian):
/// <code>
/// +----------------+----------------+--------------------+-----------------+
/// | u32 length     | u32 crc32c     | i64 sequence       | payload         |
/// | (payload only) | (seq + payload)|                    | (length bytes)  |
/// +----------------+----------------+--------------------+-----------------+
/// </code>
/// A record that is short or fails its checksum ends the log: it is a torn write from a crash
/// and is truncated on open (it was never acknowledged, since acknowledgement follows fsync).
/// </summary>
internal sealed class WriteAheadLog : IAsyncDisposable
{
    public const int HeaderLength = 16;
    public const int MaxRecordLength = 1 << 30;

    private readonly StoreLayout _layout;
    private readonly TimeSpan _groupCommitWindow;
    private readonly Channel<Request> _requests = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;
    private FileStream _file;
    private long _nextSeq;
    private long _closedFilesBytes;
    private Exception? _fault;

    private abstract record Request;
    private sealed record AppendRequest(ArraySegment<byte> Payload, Action<long> OnDurable, TaskCompletionSource<long> Done) : Request;
    private sealed record RotateRequest(TaskCompletionSource<long> Done) : Request;

    private WriteAheadLog(StoreLayout layout, long nextSeq, TimeSpan groupCommitWindow)
    {
        _layout = layout;
        _groupCommitWindow = groupCommitWindow;
        _nextSeq = nextSeq;
        _closedFilesBytes = ExistingFiles(layout).Sum(f => new FileInfo(f).Length);
        _file = OpenNewFile(nextSeq);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Starts a new log file after the existing ones; sequence numbers continue after <paramref name="lastSeq"/>.</summary>
    public static WriteAheadLog Start(StoreLayout layout, long lastSeq, TimeSpan groupCommitWindow) =>
        new(layout, lastSeq + 1, groupCommitWindow);

    /// <summary>fsyncs issued for appends (group commit makes this smaller than the number of appends).</summary>
    public long Commits => Interlocked.Read(ref _commits);
    private long _commits;

    public long LastAssignedSeq => Interlocked.Read(ref _nextSeq) - 1;

    /// <summary>The failure that made the log refuse every append since (it stays until the store is reopened), or null.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);
    public long SizeBytes => Interlocked.Read(ref _closedFilesBytes) + Interlocked.Read(ref _currentFileBytes);
    private long _currentFileBytes;

    private FileStream OpenNewFile(long firstSeq)
    {
        var file = new FileStream(_layout.WalFile(firstSeq), FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        try
        {
            file.Flush(flushToDisk: true);
            DirectorySync.Fsync(_layout.WalDirectory); // the new file's entry: an append acknowledged into it must survive
        }
        catch
        {
            file.Dispose();
            throw;
        }
        return file;
    }

    public static IEnumerable<string> ExistingFiles(StoreLayout layout) =>
        Directory.EnumerateFiles(layout.WalDirectory, "*" + StoreLayout.WalExtension).Order(StringComparer.Ordinal);

    /// <summary>
    /// Appends a record; completes with its sequence number once it is on disk. <paramref name="onDurable"/>
    /// runs on the writer loop, in sequence order, after the fsync and before the acknowledgement.
    /// </summary>
    public Task<long> AppendAsync(byte[] payload, Action<long> onDurable, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(payload);
        return AppendAsync(new ArraySegment<byte>(payload), onDurable, ct);
    }

    /// <summary>As above, for a payload that is part of a larger buffer; the buffer must not change until the task completes.</summary>
    public Task<long> AppendAsync(ArraySegment<byte> payload, Action<long> onDurable, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(payload.Array);
        if (payload.Count > MaxRecordLength) throw new ArgumentException($"A WAL record is limited to {MaxRecordLength} bytes; split the batch.");
        if (_fault is not null) throw new IOException("The write-ahead log failed earlier; reopen the store.", _fault);
        ct.ThrowIfCancellationRequested();
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_requests.Writer.TryWrite(new AppendRequest(payload, onDurable, done)))
            throw new ObjectDisposedException(nameof(WriteAheadLog));
        // Cancellation cannot take back a record that may already be written; it only stops the wait.
        return ct.CanBeCanceled ? done.Task.WaitAsync(ct) : done.Task;
    }

    /// <summary>Closes the current file and starts a new one. Returns the last sequence number in the closed files.</summary>
    public Task<long> RotateAsync()
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_requests.Writer.TryWrite(new RotateRequest(done))) throw new ObjectDisposedException(nameof(WriteAheadLog));
        return done.Task;
    }

    /// <summary>Deletes closed log files whose records are all at or below <paramref name="sealedSeq"/>.</summary>
    public void DeleteSealedFiles(long sealedSeq)
    {
        var files = ExistingFiles(_layout).ToList();
        var current = _file.Name;
        for (int i = 0; i < files.Count; i++)
        {
            if (files[i] == current) continue;
            // A file holds records from its first seq to the next file's first seq - 1.
            long nextFirst = i + 1 < files.Count ? FirstSeqOf(files[i + 1]) : long.MaxValue;
            if (nextFirst - 1 <= sealedSeq)
            {
                long length = new FileInfo(files[i]).Length;
                File.Delete(files[i]);
                Interlocked.Add(ref _closedFilesBytes, -length);
            }
        }
    }

    private static long FirstSeqOf(string path) => long.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture);

    private async Task RunAsync()
    {
        var reader = _requests.Reader;
        var pending = new List<AppendRequest>();
        var header = new byte[HeaderLength];
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            if (_groupCommitWindow > TimeSpan.Zero) await Task.Delay(_groupCommitWindow).ConfigureAwait(false);
            while (reader.TryRead(out var request))
            {
                if (request is AppendRequest append)
                {
                    if (_fault is not null) { append.Done.TrySetException(new IOException("The write-ahead log failed earlier.", _fault)); continue; }
                    pending.Add(append);
                    if (pending.Count >= 4096) Commit(pending, header);
                }
                else if (request is RotateRequest rotate)
                {
                    Commit(pending, header);
                    if (_fault is not null) { rotate.Done.TrySetException(new IOException("The write-ahead log failed earlier.", _fault)); continue; }
                    try
                    {
                        long last = _nextSeq - 1;
                        _file.Flush(flushToDisk: true);
                        Interlocked.Add(ref _closedFilesBytes, _file.Length);
                        Interlocked.Exchange(ref _currentFileBytes, 0);
                        _file.Dispose();
                        _file = OpenNewFile(_nextSeq);
                        rotate.Done.TrySetResult(last);
                    }
                    catch (Exception e)
                    {
                        _fault ??= e;
                        rotate.Done.TrySetException(e);
                    }
                }
            }
            Commit(pending, header);
        }
        Commit(pending, header);
    }

    private void Commit(List<AppendRequest> pending, byte[] header)
    {
        if (pending.Count == 0) return;
        long first = _nextSeq;
        try
        {
            long seq = first;
            foreach (var append in pending)
            {
                BinaryPrimitives.WriteInt32LittleEndian(header, append.Payload.Count);
                BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), seq);
                uint crc = Crc32C.Append(Crc32C.Compute(header.AsSpan(8, 8)), append.Payload.AsSpan());
                BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), crc);
                _file.Write(header);
                _file.Write(append.Payload.AsSpan());
                seq++;
            }
            _file.Flush(flushToDisk: true); // one fsync for the whole group
            Interlocked.Exchange(ref _currentFileBytes, _file.Length);
            Interlocked.Increment(ref _commits);
            _nextSeq = seq;
        }
        catch (Exception e)
        {
            _fault ??= e;
            foreach (var append in pending) append.Done.TrySetException(new IOException("Writing the write-ahead log failed.", e));
            pending.Clear();
            return;
        }
        long s = first;
        foreach (var append in pending)
        {
            append.OnDurable(s);
            append.Done.TrySetResult(s);
            s++;
        }
        pending.Clear();
    }

    /// <summary>
    /// Reads every record after <paramref name="afterSeq"/> from the log files, truncating a file
    /// at its first damaged record. In the newest file that is a torn tail from a crash (never
    /// acknowledged, since acknowledgement follows the fsync); in an older file it is media damage,
    /// reported in <see cref="WalReplayResult.Problems"/>.
    /// </summary>
    public static WalReplayResult Replay(StoreLayout layout, long afterSeq)
    {
        var records = new List<WalRecord>();
        var problems = new List<string>();
        long lastSeq = afterSeq, truncated = 0;
        var files = ExistingFiles(layout).ToList();
        for (int f = 0; f < files.Count; f++)
        {
            var path = files[f];
            var data = File.ReadAllBytes(path);
            int pos = 0;
            bool damaged = false;
            while (pos < data.Length)
            {
                if (data.Length - pos < HeaderLength) { damaged = true; break; }
                int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(pos));
                uint crc = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + 4));
                long seq = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(pos + 8));
                if (length < 0 || length > MaxRecordLength || data.Length - pos - HeaderLength < length) { damaged = true; break; }
                var payload = data.AsSpan(pos + HeaderLength, length);
                if (Crc32C.Append(Crc32C.Compute(data.AsSpan(pos + 8, 8)), payload) != crc) { damaged = true; break; }
                if (seq > lastSeq)
                {
                    records.Add(new WalRecord(seq, payload.ToArray()));
                    lastSeq = seq;
                }
                else if (seq > afterSeq)
                {
                    problems.Add($"WAL sequence {seq} out of order in '{Path.GetFileName(path)}'; record skipped.");
                }
                pos += HeaderLength + length;
            }
            if (damaged)
            {
                truncated += data.Length - pos;
                problems.Add(f == files.Count - 1
                    ? $"WAL file '{Path.GetFileName(path)}' had a torn tail of {data.Length - pos} bytes at byte {pos}; truncated."
                    : $"WAL file '{Path.GetFileName(path)}' is damaged at byte {pos}; {data.Length - pos} bytes dropped.");
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
                stream.SetLength(pos);
                stream.Flush(flushToDisk: true);
            }
        }
        return new WalReplayResult(records, lastSeq, truncated, problems);
    }

    public async ValueTask DisposeAsync()
    {
        _requests.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        if (_fault is null) _file.Flush(flushToDisk: true); // after a fault the file may be closed already, and nothing was acknowledged since
        await _file.DisposeAsync().ConfigureAwait(false);
    }
}
