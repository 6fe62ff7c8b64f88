namespace TrafficStore.Ingest.Protocols.Http2;

/// <summary>
/// Splits one direction of a gRPC stream into its length-prefixed messages (gRPC over HTTP/2,
/// "Length-Prefixed-Message"); a message may span DATA frames and a frame may hold several:
/// <code>
/// +------------+---------------------------+------------------+
/// | Compressed | Message-Length (32, big   | Message (Length  |
/// | Flag (8)   | endian)                   | octets)          |
/// +------------+---------------------------+------------------+
/// </code>
/// Only counts: the message bytes themselves stay in the stream's body.
/// </summary>
public sealed class GrpcMessageReader
{
    private const int PrefixSize = 5;
    private int _prefixRead;
    private byte _flag;
    private uint _length;
    private long _remaining;

    /// <summary>Whole messages seen.</summary>
    public int Messages { get; private set; }

    /// <summary>Sum of the Message-Length of whole messages.</summary>
    public long MessageBytes { get; private set; }

    /// <summary>Some message had the Compressed-Flag set.</summary>
    public bool Compressed { get; private set; }

    /// <summary>A message is cut (prefix or body incomplete).</summary>
    public bool InsideMessage => _prefixRead > 0;

    public void Feed(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_prefixRead < PrefixSize)
            {
                byte b = data[0];
                data = data[1..];
                if (_prefixRead == 0) _flag = b;
                else _length = _length << 8 | b;
                _prefixRead++;
                if (_prefixRead == PrefixSize)
                {
                    _remaining = _length;
                    if (_remaining == 0) Complete();
                }
                continue;
            }
            int take = (int)Math.Min(_remaining, data.Length);
            data = data[take..];
            _remaining -= take;
            if (_remaining == 0) Complete();
        }
    }

    private void Complete()
    {
        Messages++;
        MessageBytes += _length;
        if ((_flag & 1) != 0) Compressed = true;
        _prefixRead = 0;
        _length = 0;
    }
}
