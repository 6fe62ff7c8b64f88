using System.Buffers;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>Receives one direction's reassembled bytes.</summary>
public interface IByteStreamSink
{
    /// <summary>The next in-order bytes, from the segment that delivered them.</summary>
    void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment);

    /// <summary><paramref name="missingBytes"/> bytes were never captured; the stream skips them.</summary>
    void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment);
}

/// <summary>
/// Reassembles one direction of a TCP connection into an in-order byte stream.
/// <list type="bullet">
/// <item>Positions are 64-bit offsets that extend the 32-bit sequence space, so a stream that
/// wraps 2^32 keeps counting (each sequence number is placed within ±2^31 of the next expected byte).</item>
/// <item>Bytes already delivered are never delivered again: for a retransmission or an overlap the
/// first copy that reached the stream wins. Buffered out-of-order segments are delivered in order of
/// their start offset (earliest capture first on equal starts), so on an overlap between two
/// buffered segments the one that starts lower wins.</item>
/// <item>Out-of-order segments are buffered up to <see cref="MaxBufferedBytes"/>; when a segment
/// would exceed it the stream gives up on the hole (anomaly <c>reassembly_cap_hit</c>), reports a gap
/// and moves on.</item>
/// <item>A hole is also skipped when the other side acknowledges bytes beyond it (they were sent but
/// not captured) and when the stream ends.</item>
/// <item>Payload bytes counted in the headers but not captured (snap length) become gaps.</item>
/// </list>
/// In-order segments are passed straight through without copying or allocating.
/// </summary>
public sealed class TcpStreamReassembler
{
    private readonly FlowDirection _direction;
    private readonly List<PendingSegment> _pending = new();
    private bool _started;
    private long _next;
    private long _fin = long.MaxValue;
    private long _bufferedBytes;

    public TcpStreamReassembler(FlowDirection direction, long maxBufferedBytes)
    {
        _direction = direction;
        MaxBufferedBytes = maxBufferedBytes;
    }

    /// <summary>Where the bytes go; null counts only (nothing is copied).</summary>
    public IByteStreamSink? Sink { get; set; }

    public long MaxBufferedBytes { get; }

    /// <summary>Offset (from the stream start) of the next byte expected.</summary>
    public long NextOffset => _started ? _next - _origin : 0;
    private long _origin;

    /// <summary>Payload bytes that advanced the stream (captured or known from headers), each counted once.</summary>
    public long UniqueBytes { get; private set; }
    public long DeliveredBytes { get; private set; }
    public long DuplicateBytes { get; private set; }
    public long Gaps { get; private set; }
    public long GapBytes { get; private set; }
    public long CapHits { get; private set; }
    public long BufferedBytes => _bufferedBytes;

    /// <summary>Feeds one TCP segment of this direction.</summary>
    /// <param name="payloadLength">tcp.len from the headers.</param>
    /// <param name="captured">The payload bytes actually captured (a prefix of the payload).</param>
    public void OnSegment(uint seq, TcpFlags flags, int payloadLength, ReadOnlySpan<byte> captured, SegmentInfo info)
    {
        if ((flags & TcpFlags.Syn) != 0)
        {
            if (!_started) Start(seq + 1);
            seq++;
        }
        if (payloadLength <= 0)
        {
            if ((flags & TcpFlags.Fin) != 0 && _started) _fin = Math.Min(_fin, ToOffset(seq));
            return;
        }
        if (!_started) Start(seq);
        if (captured.Length > payloadLength) captured = captured[..payloadLength];

        long start = ToOffset(seq);
        long end = start + payloadLength;
        if ((flags & TcpFlags.Fin) != 0) _fin = Math.Min(_fin, end);

        if (end <= _next)
        {
            DuplicateBytes += payloadLength;
            return;
        }
        if (start <= _next)
        {
            DuplicateBytes += _next - start;
            Deliver(start, payloadLength, captured, info);
            Drain();
            return;
        }

        if (_bufferedBytes + captured.Length > MaxBufferedBytes)
        {
            // Give up on the hole(s): deliver what is buffered with gaps, then this segment.
            CapHits++;
            FlushPending(info);
            SkipTo(start, info);
            if (end <= _next) DuplicateBytes += payloadLength;
            else Deliver(start, payloadLength, captured, info);
            return;
        }
        Buffer(start, payloadLength, captured, info);
    }

    /// <summary>The other side acknowledged up to <paramref name="ack"/>: bytes before it that never came are a gap.</summary>
    public void OnAcknowledged(uint ack, SegmentInfo info)
    {
        if (!_started) return;
        long target = ToOffset(ack);
        if (target > _fin) target = _fin; // the FIN's own sequence number is not a byte
        // Ignore nonsense acks (e.g. a RST's zero ack) far beyond anything plausible.
        if (target <= _next || target - _next > int.MaxValue) return;
        while (_next < target)
        {
            if (_pending.Count > 0 && _pending[0].Start < target)
            {
                SkipTo(_pending[0].Start, info);
                Drain();
            }
            else
            {
                SkipTo(target, info);
            }
        }
    }

    /// <summary>End of the connection: everything still buffered is delivered, holes as gaps.</summary>
    public void Finish(SegmentInfo info) => FlushPending(info);

    private void Start(uint seq)
    {
        _started = true;
        _next = seq;
        _origin = seq;
    }

    private long ToOffset(uint seq) => _next + (int)(seq - (uint)_next);

    private void Deliver(long start, int payloadLength, ReadOnlySpan<byte> captured, SegmentInfo info)
    {
        long end = start + payloadLength;
        if (end <= _next) return;
        long skip = Math.Max(_next - start, 0);
        if (skip < captured.Length)
        {
            var fresh = captured[(int)skip..];
            DeliveredBytes += fresh.Length;
            Sink?.OnData(_direction, fresh, info);
        }
        long capturedEnd = start + captured.Length;
        if (capturedEnd < end)
        {
            // Counted in the headers, not captured: known to be sent, so it is goodput, but a gap for parsers.
            long missing = end - Math.Max(capturedEnd, _next);
            Gaps++;
            GapBytes += missing;
            Sink?.OnGap(_direction, missing, info);
        }
        UniqueBytes += end - _next;
        _next = end;
    }

    private void SkipTo(long target, SegmentInfo info)
    {
        if (target <= _next) return;
        long missing = target - _next;
        Gaps++;
        GapBytes += missing;
        Sink?.OnGap(_direction, missing, info);
        _next = target;
    }

    private void Buffer(long start, int payloadLength, ReadOnlySpan<byte> captured, SegmentInfo info)
    {
        byte[]? copy = null;
        if (Sink is not null && captured.Length > 0)
        {
            copy = ArrayPool<byte>.Shared.Rent(captured.Length);
            captured.CopyTo(copy);
        }
        var seg = new PendingSegment(start, payloadLength, captured.Length, copy, info);
        int i = _pending.Count;
        while (i > 0 && _pending[i - 1].Start > start) i--;
        _pending.Insert(i, seg);
        _bufferedBytes += captured.Length;
    }

    private void Drain()
    {
        while (_pending.Count > 0 && _pending[0].Start <= _next)
        {
            var seg = _pending[0];
            _pending.RemoveAt(0);
            _bufferedBytes -= seg.CapturedLength;
            if (seg.Start + seg.Length > _next)
            {
                DuplicateBytes += _next - seg.Start;
                var data = seg.Data is null ? ReadOnlySpan<byte>.Empty : seg.Data.AsSpan(0, seg.CapturedLength);
                if (seg.Data is null && seg.CapturedLength > 0 && Sink is null)
                {
                    // Count-only mode: account the captured bytes without data.
                    long end = seg.Start + seg.Length;
                    long capturedEnd = seg.Start + seg.CapturedLength;
                    if (capturedEnd > _next) DeliveredBytes += capturedEnd - _next;
                    if (capturedEnd < end) { Gaps++; GapBytes += end - Math.Max(capturedEnd, _next); }
                    UniqueBytes += end - _next;
                    _next = end;
                }
                else
                {
                    Deliver(seg.Start, seg.Length, data, seg.Info);
                }
            }
            else
            {
                DuplicateBytes += seg.Length;
            }
            if (seg.Data is not null) ArrayPool<byte>.Shared.Return(seg.Data);
        }
    }

    private void FlushPending(SegmentInfo info)
    {
        while (_pending.Count > 0)
        {
            SkipTo(_pending[0].Start, _pending[0].Info);
            Drain();
        }
    }

    private readonly record struct PendingSegment(long Start, int Length, int CapturedLength, byte[]? Data, SegmentInfo Info);
}
