using System.Buffers.Binary;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// Cuts one direction of a DNS-over-TCP stream into messages (RFC 1035 §4.2.2, RFC 7766 §8):
/// <code>
/// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
/// |                 MESSAGE LENGTH                |   then MESSAGE LENGTH bytes of DNS message
/// +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
/// </code>
/// Messages may share a segment or span many; bytes are copied only when a message spans
/// segments. A message belongs to the segment that delivered its last byte.
/// </summary>
internal sealed class DnsTcpFramer
{
    public delegate void MessageHandler(ReadOnlySpan<byte> message, SegmentInfo segment);

    private readonly MessageHandler _onMessage;
    private readonly byte[] _lengthBytes = new byte[2];
    private byte[]? _message;
    private int _lengthFill;
    private int _messageFill;
    private int _messageLength;

    public DnsTcpFramer(MessageHandler onMessage) => _onMessage = onMessage;

    /// <summary>Set once the stream cannot be framed any more (a gap or a bad length).</summary>
    public DnsAnomaly? StoppedBy { get; private set; }

    public void OnData(ReadOnlySpan<byte> data, SegmentInfo segment)
    {
        while (!data.IsEmpty && StoppedBy is null)
        {
            if (_lengthFill == 0 && data.Length >= 2)
            {
                int length = BinaryPrimitives.ReadUInt16BigEndian(data);
                if (length < DnsMessageReader.HeaderLength) { StoppedBy = DnsAnomaly.TcpBadLength; return; }
                if (data.Length >= 2 + length)
                {
                    // whole message inside this segment: no copy
                    _onMessage(data.Slice(2, length), segment);
                    data = data[(2 + length)..];
                    continue;
                }
            }
            if (_lengthFill < 2)
            {
                _lengthBytes[_lengthFill++] = data[0];
                data = data[1..];
                if (_lengthFill < 2) continue;
                _messageLength = BinaryPrimitives.ReadUInt16BigEndian(_lengthBytes);
                if (_messageLength < DnsMessageReader.HeaderLength) { StoppedBy = DnsAnomaly.TcpBadLength; return; }
                if (_message is null || _message.Length < _messageLength) _message = new byte[_messageLength];
                _messageFill = 0;
                continue;
            }
            int take = Math.Min(_messageLength - _messageFill, data.Length);
            data[..take].CopyTo(_message.AsSpan(_messageFill));
            _messageFill += take;
            data = data[take..];
            if (_messageFill == _messageLength)
            {
                _lengthFill = 0;
                _onMessage(_message.AsSpan(0, _messageLength), segment);
            }
        }
    }

    /// <summary>Missing bytes make the framing unknowable: stop this direction.</summary>
    public void OnGap() => StoppedBy ??= DnsAnomaly.TcpGap;
}
