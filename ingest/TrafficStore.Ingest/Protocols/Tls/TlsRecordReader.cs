using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>TLS record content types (RFC 8446 §5.1; 20–24).</summary>
public enum TlsContentType : byte
{
    ChangeCipherSpec = 20,
    Alert = 21,
    Handshake = 22,
    ApplicationData = 23,
    Heartbeat = 24,
    /// <summary>Not on the wire: an SSL 2.0-compatible CLIENT-HELLO record (RFC 5246 Appendix E.2).</summary>
    Ssl2ClientHello = 0x80,
}

/// <summary>
/// Cuts one direction of a TLS stream into records (RFC 8446 §5.1):
/// <code>
/// +-------------+-----------------+------------+---------------------+
/// | type (1)    | version (2)     | length (2) | fragment (length)   |
/// +-------------+-----------------+------------+---------------------+
/// </code>
/// Records may span any number of segments and share them; bytes are copied only when a record
/// spans segments. A record belongs to the segment that delivered its last byte. The first
/// record of a direction may be an SSL 2.0 CLIENT-HELLO with a 2-byte header (high bit set).
/// </summary>
internal sealed class TlsRecordReader
{
    public delegate void RecordHandler(TlsContentType type, int version, ReadOnlySpan<byte> fragment, SegmentInfo segment);

    private const int HeaderLength = 5;
    private readonly RecordHandler _onRecord;
    private readonly int _maxRecordLength;
    private readonly byte[] _header = new byte[HeaderLength];
    private int _headerFill;
    private byte[]? _body;
    private int _bodyFill;
    private int _bodyLength;
    private TlsContentType _type;
    private int _version;
    private bool _first = true;

    public TlsRecordReader(RecordHandler onRecord, int maxRecordLength)
    {
        _onRecord = onRecord;
        _maxRecordLength = maxRecordLength;
    }

    /// <summary>Set once this direction cannot be parsed any more.</summary>
    public TlsAnomaly? StoppedBy { get; private set; }

    /// <summary>True while a record is partly received.</summary>
    public bool InsideRecord => _headerFill > 0;

    public void OnData(ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        while (!data.IsEmpty && StoppedBy is null)
        {
            if (_headerFill == 0 && data.Length >= HeaderLength)
            {
                // fast path: header (and maybe the whole record) inside this segment
                if (!ReadHeader(data[..HeaderLength], out int headerLength)) return;
                if (data.Length >= headerLength + _bodyLength)
                {
                    var fragment = data.Slice(headerLength, _bodyLength);
                    data = data[(headerLength + _bodyLength)..];
                    _onRecord(_type, _version, fragment, segment);
                    continue;
                }
                data[..HeaderLength].CopyTo(_header);
                _headerFill = HeaderLength;
                StartBody(headerLength);
                data = data[HeaderLength..];
                continue;
            }
            if (_headerFill < HeaderLength)
            {
                int take = Math.Min(HeaderLength - _headerFill, data.Length);
                data[..take].CopyTo(_header.AsSpan(_headerFill));
                _headerFill += take;
                data = data[take..];
                if (_headerFill < HeaderLength) continue;
                if (!ReadHeader(_header, out int headerLength)) return;
                StartBody(headerLength);
                if (_bodyFill == _bodyLength) Complete(segment);
                continue;
            }
            int n = Math.Min(_bodyLength - _bodyFill, data.Length);
            data[..n].CopyTo(_body.AsSpan(_bodyFill));
            _bodyFill += n;
            data = data[n..];
            if (_bodyFill == _bodyLength) Complete(segment);
        }
    }

    /// <summary>Bytes were not captured: the record boundaries are lost for good.</summary>
    public void OnGap() => StoppedBy ??= TlsAnomaly.Gap;

    private void StartBody(int headerLength)
    {
        if (_body is null || _body.Length < _bodyLength) _body = new byte[Math.Max(_bodyLength, 512)];
        // an SSLv2 header is 2 bytes: the 3 further bytes already read belong to the body
        _bodyFill = HeaderLength - headerLength;
        _header.AsSpan(headerLength, _bodyFill).CopyTo(_body);
    }

    private void Complete(SegmentInfo segment)
    {
        _headerFill = 0;
        _onRecord(_type, _version, _body.AsSpan(0, _bodyLength), segment);
    }

    /// <summary>Validates a 5-byte header; sets the record's type, version and body length.</summary>
    private bool ReadHeader(ReadOnlySpan<byte> h, out int headerLength)
    {
        bool first = _first;
        _first = false;
        if (first && (h[0] & 0x80) != 0 && h[2] == 1 && (h[3] == 0x03 || (h[3] == 0x00 && h[4] == 0x02)))
        {
            // SSL 2.0 record header, no padding form: length = ((b0 & 0x7f) << 8) | b1; then msg_type 1 = CLIENT-HELLO
            headerLength = 2;
            _type = TlsContentType.Ssl2ClientHello;
            _version = 0x0002;
            _bodyLength = ((h[0] & 0x7f) << 8) | h[1];
            if (_bodyLength < HeaderLength - 2) { StoppedBy = TlsAnomaly.BadRecord; return false; }
            return true;
        }
        headerLength = HeaderLength;
        byte type = h[0];
        int version = BinaryPrimitives.ReadUInt16BigEndian(h[1..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(h[3..]);
        if (type < 20 || type > 24 || (version >> 8) != 3)
        {
            StoppedBy = TlsAnomaly.BadRecord;
            return false;
        }
        if (length > _maxRecordLength)
        {
            StoppedBy = TlsAnomaly.RecordTooLong;
            return false;
        }
        _type = (TlsContentType)type;
        _version = version;
        _bodyLength = length;
        return true;
    }
}

/// <summary>
/// Reassembles handshake messages (RFC 8446 §4: msg_type(1), length(3), body) that may be split
/// across records or share one. Copies only when a message spans records.
/// </summary>
internal sealed class TlsHandshakeReader
{
    public delegate void MessageHandler(int type, ReadOnlySpan<byte> body, SegmentInfo segment);

    private readonly MessageHandler _onMessage;
    private readonly int _maxLength;
    private byte[] _buffer = Array.Empty<byte>();
    private int _count;

    public TlsHandshakeReader(MessageHandler onMessage, int maxLength)
    {
        _onMessage = onMessage;
        _maxLength = maxLength;
    }

    public TlsAnomaly? StoppedBy { get; private set; }

    public void OnFragment(ReadOnlySpan<byte> fragment, SegmentInfo segment)
    {
        if (StoppedBy is not null) return;
        if (_count == 0)
        {
            while (fragment.Length >= 4)
            {
                int length = (fragment[1] << 16) | (fragment[2] << 8) | fragment[3];
                if (length > _maxLength) { StoppedBy = TlsAnomaly.HandshakeTooLong; return; }
                if (fragment.Length < 4 + length) break;
                _onMessage(fragment[0], fragment.Slice(4, length), segment);
                fragment = fragment[(4 + length)..];
            }
            Append(fragment);
            return;
        }
        Append(fragment);
        while (_count >= 4)
        {
            int length = (_buffer[1] << 16) | (_buffer[2] << 8) | _buffer[3];
            if (length > _maxLength) { StoppedBy = TlsAnomaly.HandshakeTooLong; _count = 0; return; }
            if (_count < 4 + length) return;
            _onMessage(_buffer[0], _buffer.AsSpan(4, length), segment);
            _buffer.AsSpan(4 + length, _count - 4 - length).CopyTo(_buffer);
            _count -= 4 + length;
        }
    }

    /// <summary>Encrypted handshake records follow: drop any partial plaintext message.</summary>
    public void Reset() => _count = 0;

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (_count + bytes.Length > _buffer.Length)
        {
            // grow to what is needed, never beyond one maximal message plus a record
            Array.Resize(ref _buffer, Math.Max(_count + bytes.Length, Math.Min(_buffer.Length * 2 + 256, _maxLength + 4 + (1 << 15))));
        }
        bytes.CopyTo(_buffer.AsSpan(_count));
        _count += bytes.Length;
    }
}
