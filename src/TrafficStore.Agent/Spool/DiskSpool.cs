using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace TrafficStore.Agent.Spool;

/// <summary>
/// One spooled batch: where it is, which table it is for, how many rows, and its Arrow IPC stream bytes.
/// <paramref name="Sequence"/> numbers the spool's batches from 1 in append order, across restarts (with
/// <see cref="DiskSpool.AgentId"/> it names the batch to the server, which stores it once); 0 for a record
/// written by an agent older than sequence numbers (shipped without identity, at least once).
/// </summary>
public sealed record SpoolEntry(long Segment, long Offset, long NextOffset, string Table, int Rows, byte[] Data, long Sequence = 0);

/// <summary>Counters of a <see cref="DiskSpool"/>.</summary>
public readonly record struct SpoolStatistics(long Bytes, long PendingBatches, long PendingRows, long AppendedBatches,
    long AckedBatches, long AckedRows, long DroppedBatches, long DroppedRows, int Segments);

/// <summary>
/// The agent's bounded, append-only disk spool: batches wait here until the server acknowledged
/// them. Segment files <c>NNNNNNNNNNNNNNNNNNNN.spool</c> hold records appended in order and fsync'd;
/// a small <c>ack</c> file (replaced atomically) records the position of the first unacknowledged
/// record, so a restarted agent resumes where the server left off. When the spool outgrows its
/// limit the oldest segments are deleted, and the rows and batches in them that were not yet
/// acknowledged are counted as dropped (never silently).
/// <code>
/// record := magic "TSB2" (4) | body length (u32 LE) | rows (u32 LE) | sequence (u64 LE) | table length (u16 LE) | table (UTF-8) | Arrow IPC stream
///           (records of older agents: magic "TSB1", no sequence field; still read, shipped without identity)
/// ack    := "SEGMENT OFFSET LAST_ACKED_SEQUENCE\n"   (older agents wrote the first two only)
/// agent-id := the agent's id, 32 hex digits, made once with the spool directory
/// numbered := "HIGHEST\n"   the highest sequence number this spool may have given out (replaced atomically)
/// </code>
/// The sequence continues after the largest one in the segments, the ack file or <c>numbered</c>, so a batch number is
/// never reused, even when every segment was deleted, acknowledged or not (the server may have stored batches whose
/// answer never came: under a reused number it would drop the new batch as a duplicate). <c>numbered</c> is written
/// before a number past it is given out, a block of <see cref="NumberBlock"/> at a time (so not once per batch), and
/// brought down to the exact last number when the spool is closed; after a crash the numbering goes on past the block
/// (a gap is harmless to the server's marks, a reuse is not). When nothing shows where the numbering was (no
/// <c>numbered</c> file and no numbered segment record: the spool was reset but kept <c>agent-id</c>) the numbering
/// goes on under a new agent id, never under the old one. A record cut short by a crash (length past the end of the
/// file) ends that segment.
/// <para>
/// Every entry the spool relies on is made durable by an fsync of the directory (<see cref="SpoolDirectory"/>): a new
/// segment before records are appended to it, <c>agent-id</c> before anything is numbered under it, <c>ack</c> before
/// an acknowledgement returns, <c>numbered</c> before its numbers are used. Thread-safe.
/// </para>
/// </summary>
public sealed class DiskSpool : IDisposable
{
    private const uint LegacyMagic = 0x31425354; // "TSB1" little-endian
    private const uint Magic = 0x32425354;       // "TSB2" little-endian
    // magic, body length, rows, sequence, table length
    private const int HeaderBytes = 4 + 4 + 4 + 8 + 2;
    private const int LegacyHeaderBytes = 4 + 4 + 4 + 2;
    private const string Extension = ".spool";
    private const string AckFile = "ack";
    private const string AgentIdFile = "agent-id";
    private const string NumberedFile = "numbered";
    /// <summary>Sequence numbers reserved by one write of <c>numbered</c>.</summary>
    internal const long NumberBlock = 1024;

    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly long _segmentBytes;
    private readonly Lock _gate = new();
    private readonly SortedDictionary<long, SegmentInfo> _segments = new();
    private readonly SemaphoreSlim _appended = new(0, 1);
    private FileStream? _writer;
    private long _writeSegment;
    private long _readSegment;
    private long _readOffset;
    private long _appendedBatches, _ackedBatches, _ackedRows, _droppedBatches, _droppedRows;
    private long _nextSequence = 1;
    private long _lastAckedSequence;
    private long _reserved;        // the value in the numbered file: numbers up to it may have been given out

    private sealed class SegmentInfo
    {
        public long Bytes;
        public long Batches;
        public long Rows;
    }

    /// <param name="directory">Spool directory (created when missing).</param>
    /// <param name="maxBytes">Limit of the spool's size on disk; the oldest data goes first when it is passed.</param>
    public DiskSpool(string directory, long maxBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        _directory = directory;
        _maxBytes = maxBytes;
        // Four segments or more per spool, so dropping one never throws away most of it.
        _segmentBytes = Math.Clamp(maxBytes / 4, 1, 64L << 20);
        bool existed = Directory.Exists(directory);
        Directory.CreateDirectory(directory);
        if (!existed && Path.GetDirectoryName(Path.GetFullPath(directory)) is { } parent) SpoolDirectory.Fsync(parent);
        bool numberingKnown = Recover();
        // The server knows a batch by (agent id, sequence) and skips any at or below the highest it stored. A spool
        // whose numbering starts again at 1 (its segments and ack file were deleted, e.g. a reset, or the ack file was
        // lost after everything shipped) under the old id would have its new batches taken for duplicates and dropped
        // until the numbers passed the old ones: so whenever nothing here shows where the numbering was, the spool
        // takes a new id, before it numbers anything.
        (AgentId, NewIdentity) = LoadOrCreateAgentId(renew: !numberingKnown);
    }

    public string DirectoryPath => _directory;

    /// <summary>
    /// This spool's agent id (file <c>agent-id</c>, made with the directory): together with
    /// <see cref="SpoolEntry.Sequence"/> it names every batch to the server, across agent restarts.
    /// </summary>
    public string AgentId { get; }

    /// <summary>
    /// Why <see cref="AgentId"/> is new with this start, or null when it is the one the spool had: a spool whose
    /// <c>agent-id</c> survived while its numbering did not (segments and ack file gone) starts a new identity.
    /// </summary>
    public string? NewIdentity { get; }
    public long MaxBytes => _maxBytes;

    public SpoolStatistics Statistics
    {
        get
        {
            lock (_gate)
            {
                long bytes = 0, batches = 0, rows = 0;
                foreach (var s in _segments.Values) { bytes += s.Bytes; batches += s.Batches; rows += s.Rows; }
                return new SpoolStatistics(bytes, batches, rows, _appendedBatches, _ackedBatches, _ackedRows, _droppedBatches, _droppedRows, _segments.Count);
            }
        }
    }

    /// <summary>
    /// Appends one batch (Arrow IPC stream bytes) durably: the record is fsync'd before this returns.
    /// Returns the number of batches dropped from the oldest end to stay within the limit.
    /// </summary>
    public long Append(string table, int rows, ReadOnlySpan<byte> arrowIpc)
    {
        return WriteDurably([Record(table, rows, arrowIpc)], rows);
    }

    /// <summary>
    /// Appends batches that must share their fate, in order, durably (one write, one fsync): they go in the
    /// same segment, so the size limit drops all of them or none (a group larger than a segment gets one of
    /// its own). A crash while writing keeps a prefix of the group (records are read up to the first torn one).
    /// The node agent appends a payloads batch and the packets batches that refer to its rows this way.
    /// Returns the number of batches dropped from the oldest end to stay within the limit.
    /// </summary>
    public long AppendGroup(IReadOnlyList<(string Table, int Rows, byte[] ArrowIpc)> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0) return 0;
        var records = batches.Select(b => Record(b.Table, b.Rows, b.ArrowIpc)).ToList();
        return WriteDurably(records, batches.Sum(b => (long)b.Rows));
    }

    /// <summary>
    /// Numbers the records (the next sequence numbers, in order), then one write and one fsync of them into the
    /// current segment; then the size limit. When the write or the fsync fails (disk full, EIO), the segment is cut
    /// back to its length before the write and the sequence numbers are given back, so later records follow the
    /// last good one; if even the cut fails, the segment is closed there (the reader stops at that length and goes
    /// on with the next segment) and the numbers stay used (a gap is harmless to the server's marks, a reuse is not,
    /// and the failed bytes may still be on disk). Either way the records count as dropped and the exception is
    /// rethrown.
    /// </summary>
    private long WriteDurably(List<byte[]> records, long rows)
    {
        lock (_gate)
        {
            long needed = _nextSequence + records.Count - 1;
            if (needed > _reserved)
            {
                try { Reserve(Math.Max(needed, _nextSequence - 1 + NumberBlock)); }
                catch
                {
                    _droppedBatches += records.Count;
                    _droppedRows += rows;
                    throw;
                }
            }
            long firstSequence = _nextSequence;
            foreach (var r in records) BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(12), _nextSequence++);
            byte[] bytes = records[0];
            if (records.Count > 1)
            {
                bytes = new byte[records.Sum(r => (long)r.Length)];
                int at = 0;
                foreach (var r in records) { r.CopyTo(bytes, at); at += r.Length; }
            }
            FileStream? writer = null;
            try
            {
                writer = WriterFor(bytes.Length);
                WriteAndSync(writer, bytes);
            }
            catch
            {
                _droppedBatches += records.Count;
                _droppedRows += rows;
                if (writer is null || CutBack(writer, _segments[_writeSegment].Bytes)) _nextSequence = firstSequence;
                throw;
            }
            var info = _segments[_writeSegment];
            info.Bytes += bytes.Length;
            info.Batches += records.Count;
            info.Rows += rows;
            _appendedBatches += records.Count;
            long dropped = EnforceLimit();
            if (_appended.CurrentCount == 0) _appended.Release();
            return dropped;
        }
    }

    /// <summary>
    /// After a failed write: truncates the write segment back to <paramref name="length"/> (fsync'd) and returns true;
    /// when that fails too, closes the segment (the next append starts a new one) and returns false.
    /// </summary>
    private bool CutBack(FileStream writer, long length)
    {
        try
        {
            Truncate(writer, length);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            try { writer.Dispose(); } catch (IOException) { }   // unbuffered: nothing left to flush
            _writer = null;
            return false;
        }
    }

    // Seams for tests that make a write, an fsync or a truncation fail; nothing else sets them.
    internal Action<FileStream, byte[]> WriteAndSync = static (f, bytes) =>
    {
        f.Write(bytes);
        f.Flush(flushToDisk: true);
    };
    internal Action<FileStream, long> Truncate = static (f, length) =>
    {
        f.SetLength(length);
        f.Position = length;
        f.Flush(flushToDisk: true);
    };

    private static byte[] Record(string table, int rows, ReadOnlySpan<byte> arrowIpc)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        byte[] name = Encoding.UTF8.GetBytes(table);
        if (name.Length > ushort.MaxValue) throw new ArgumentException("table name too long", nameof(table));
        int bodyLength = checked(HeaderBytes - 8 + name.Length + arrowIpc.Length);
        var record = new byte[checked(8 + bodyLength)];
        BinaryPrimitives.WriteUInt32LittleEndian(record, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(4), (uint)bodyLength);
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(8), (uint)rows);
        // bytes 12..19: the sequence, numbered under the lock by WriteDurably
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(20), (ushort)name.Length);
        name.CopyTo(record.AsSpan(HeaderBytes));
        arrowIpc.CopyTo(record.AsSpan(HeaderBytes + name.Length));
        return record;
    }

    /// <summary>The oldest unacknowledged batch, or false when everything was acknowledged.</summary>
    public bool TryPeek(out SpoolEntry entry)
    {
        lock (_gate)
        {
            while (true)
            {
                entry = null!;
                if (!_segments.ContainsKey(_readSegment))
                {
                    // The read segment was dropped or fully read: go on with the oldest remaining one.
                    long? next = _segments.Keys.Where(k => k > _readSegment).Select(k => (long?)k).FirstOrDefault();
                    if (next is null) return false;
                    _readSegment = next.Value;
                    _readOffset = 0;
                }
                // The segment's known length, not the file's: a segment closed after a failed write ends where it was good.
                if (TryReadRecord(_readSegment, _readOffset, _segments[_readSegment].Bytes, out entry)) return true;
                if (_readSegment == _writeSegment && _writer is not null) return false;     // caught up with the writer
                // End of a finished segment: everything in it was acknowledged.
                DeleteSegment(_readSegment);
                _readOffset = 0;
            }
        }
    }

    /// <summary>Waits until something is appended (or the timeout passes).</summary>
    public Task<bool> WaitForAppendAsync(TimeSpan timeout, CancellationToken ct) => _appended.WaitAsync(timeout, ct);

    /// <summary>
    /// Marks <paramref name="entry"/> acknowledged by the server: the read position moves past it and
    /// is made durable. An entry whose segment was dropped meanwhile is ignored (it is already
    /// counted as dropped, although the server may have it).
    /// </summary>
    public void Acknowledge(SpoolEntry entry)
    {
        lock (_gate)
        {
            if (entry.Segment != _readSegment || entry.Offset != _readOffset) return;
            _readOffset = entry.NextOffset;
            _lastAckedSequence = Math.Max(_lastAckedSequence, entry.Sequence);
            _ackedBatches++;
            _ackedRows += entry.Rows;
            if (_segments.TryGetValue(entry.Segment, out var info))
            {
                info.Batches--;
                info.Rows -= entry.Rows;
            }
            WriteAckPosition();
        }
    }

    // ------------------------------------------------------------------ writing

    private FileStream WriterFor(int recordLength)
    {
        if (_writer is not null && _writer.Length + recordLength > _segmentBytes && _writer.Length > 0)
        {
            _writer.Dispose();
            _writer = null;
        }
        if (_writer is null)
        {
            // Never reuse the read segment's number: with no segment left, the ack file still names it with the offset
            // where its (deleted) records ended, and a new file of that number would have its first records skipped.
            _writeSegment = _segments.Count == 0 ? _readSegment + 1 : _segments.Keys.Max() + 1;
            // Unbuffered: a failed write leaves no bytes in a buffer that a later flush or Dispose would still write.
            var writer = new FileStream(SegmentPath(_writeSegment), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            try
            {
                // The new file's entry: the records fsync'd into it are reported durable, so the entry must be too.
                SpoolDirectory.Fsync(_directory);
            }
            catch
            {
                writer.Dispose();
                try { File.Delete(SegmentPath(_writeSegment)); } catch (IOException) { }
                throw;
            }
            _writer = writer;
            _segments[_writeSegment] = new SegmentInfo();
            if (_segments.Count == 1 && _readSegment < _writeSegment)
            {
                _readSegment = _writeSegment;
                _readOffset = 0;
            }
        }
        return _writer;
    }

    /// <summary>Deletes the oldest segments (never the one being written) while the spool is over its limit.</summary>
    private long EnforceLimit()
    {
        long dropped = 0;
        while (true)
        {
            long total = _segments.Values.Sum(s => s.Bytes);
            if (total <= _maxBytes || _segments.Count <= 1) return dropped;
            long oldest = _segments.Keys.First();
            if (oldest == _writeSegment) return dropped;
            var info = _segments[oldest];
            // Records before the read position were acknowledged; only the rest is lost.
            long lostBatches = info.Batches, lostRows = info.Rows;
            _droppedBatches += lostBatches;
            _droppedRows += lostRows;
            dropped += lostBatches;
            DeleteSegment(oldest);
            if (oldest == _readSegment)
            {
                _readSegment = _segments.Keys.First();
                _readOffset = 0;
                WriteAckPosition();
            }
        }
    }

    private void DeleteSegment(long segment)
    {
        _segments.Remove(segment);
        if (segment == _writeSegment && _writer is not null)
        {
            _writer.Dispose();
            _writer = null;
        }
        File.Delete(SegmentPath(segment));
    }

    private void WriteAckPosition()
    {
        SpoolDirectory.Replace(Path.Combine(_directory, AckFile), $"{_readSegment} {_readOffset} {_lastAckedSequence}\n");
    }

    /// <summary>Writes <paramref name="highest"/> to the numbered file durably; numbers up to it may then be given out.</summary>
    private void Reserve(long highest)
    {
        SpoolDirectory.Replace(Path.Combine(_directory, NumberedFile), highest.ToString(CultureInfo.InvariantCulture) + "\n");
        _reserved = highest;
    }

    // ------------------------------------------------------------------ reading

    private bool TryReadRecord(long segment, long offset, long limit, out SpoolEntry entry)
    {
        entry = null!;
        string path = SegmentPath(segment);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        long length = Math.Min(f.Length, limit);
        if (length - offset < LegacyHeaderBytes) return false;
        f.Position = offset;
        Span<byte> header = stackalloc byte[HeaderBytes];
        f.ReadExactly(header[..8]);
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (magic != Magic && magic != LegacyMagic) return false;
        int headerBytes = magic == Magic ? HeaderBytes : LegacyHeaderBytes;
        long bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        if (bodyLength < headerBytes - 8 || length - offset - 8 < bodyLength) return false;   // cut short by a crash while appending
        f.ReadExactly(header[8..headerBytes]);
        int rows = (int)BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        long sequence = magic == Magic ? BinaryPrimitives.ReadInt64LittleEndian(header[12..]) : 0;
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[(headerBytes - 2)..]);
        var body = new byte[bodyLength - (headerBytes - 8)];
        f.ReadExactly(body);
        string table = Encoding.UTF8.GetString(body, 0, nameLength);
        entry = new SpoolEntry(segment, offset, offset + 8 + bodyLength, table, rows, body[nameLength..], sequence);
        return true;
    }

    /// <summary>
    /// Rebuilds the segment list, read position and numbering after a restart (or a crash). True when something shows
    /// where the numbering was: the numbered file, or a numbered record in a segment.
    /// </summary>
    private bool Recover()
    {
        bool numberingKnown = false;
        string numbered = Path.Combine(_directory, NumberedFile);
        if (File.Exists(numbered) && long.TryParse(File.ReadAllText(numbered).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long reserved))
        {
            _reserved = reserved;
            numberingKnown = true;
        }
        foreach (var path in Directory.EnumerateFiles(_directory, "*" + Extension))
        {
            if (!long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out long id)) continue;
            _segments[id] = new SegmentInfo();
        }
        string ack = Path.Combine(_directory, AckFile);
        if (File.Exists(ack))
        {
            var parts = File.ReadAllText(ack).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length is 2 or 3 && long.TryParse(parts[0], CultureInfo.InvariantCulture, out long s) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out long o))
                (_readSegment, _readOffset) = (s, o);
            if (parts.Length == 3 && long.TryParse(parts[2], CultureInfo.InvariantCulture, out long acked))
                _lastAckedSequence = acked;
        }
        long lastSequence = _lastAckedSequence;
        foreach (var (id, info) in _segments.ToList())
        {
            if (id < _readSegment)
            {
                DeleteSegment(id);        // fully acknowledged before the restart
                continue;
            }
            long offset = 0;
            while (TryReadRecord(id, offset, long.MaxValue, out var e))
            {
                lastSequence = Math.Max(lastSequence, e.Sequence);
                numberingKnown |= e.Sequence > 0;
                if (id > _readSegment || offset >= _readOffset)
                {
                    info.Batches++;
                    info.Rows += e.Rows;
                }
                offset = e.NextOffset;
            }
            info.Bytes = new FileInfo(SegmentPath(id)).Length;
        }
        if (_segments.Count > 0 && !_segments.ContainsKey(_readSegment))
        {
            _readSegment = _segments.Keys.First();
            _readOffset = 0;
        }
        // New records go to a new segment: the last one may end in a torn record.
        _writeSegment = -1;
        // Past every number that may have been given out, acknowledged, still spooled or deleted unacknowledged.
        _nextSequence = Math.Max(lastSequence, _reserved) + 1;
        return numberingKnown;
    }

    /// <summary>
    /// The spool's agent id; a new one when there is none, or when <paramref name="renew"/> (the numbering starts
    /// at 1 again) and the old one may have named batches to a server. Returns the id and why it is new (or null).
    /// </summary>
    private (string Id, string? Why) LoadOrCreateAgentId(bool renew)
    {
        string path = Path.Combine(_directory, AgentIdFile);
        string? why = null;
        if (File.Exists(path))
        {
            string id = File.ReadAllText(path).Trim();
            if (!(id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-')))
                throw new InvalidDataException($"The spool's agent id file '{path}' is damaged; delete it to give the agent a new identity (its spooled batches may then be stored twice).");
            if (!renew) return (id, null);
            why = $"nothing in the spool shows where its batch numbering was (no numbered file and no numbered segment): new agent id replaces {id}, whose numbers the server may already have";
        }
        string created = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        // Durable before anything is numbered under the new id: a power loss must not bring back the old id after that.
        SpoolDirectory.Replace(path, created + "\n");
        return (created, why);
    }

    private string SegmentPath(long segment) => Path.Combine(_directory, segment.ToString("D20", CultureInfo.InvariantCulture) + Extension);

    public void Dispose()
    {
        lock (_gate)
        {
            _writer?.Dispose();
            _writer = null;
            // A clean close gives back the unused rest of the block, so a restart numbers on without a gap. Best effort:
            // the larger reservation left in place is just as safe.
            if (_reserved > _nextSequence - 1)
            {
                try { Reserve(_nextSequence - 1); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
    }
}
