using System.Buffers.Binary;

namespace TrafficStore.Ingest.Capture;

/// <summary>
/// Reads classic libpcap files (draft-ietf-opsawg-pcap). File header, 24 bytes:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Magic Number                         |  a1b2c3d4 (us) / a1b23c4d (ns)
/// |          Major Version        |         Minor Version         |
/// |                           Reserved1                           |
/// |                           Reserved2                           |
/// |                            SnapLen                            |
/// | FCS |f|0 0 0 0 0 0 0 0 0 0 0 0|         LinkType              |
/// +---------------------------------------------------------------+
/// </code>
/// Each record: seconds, (micro|nano)seconds, captured length, original length (16 bytes), then
/// the captured bytes. The byte order is the writer's, recognised from the magic.
/// </summary>
internal sealed class PcapReader : ICaptureSource
{
    private const int FileHeaderLength = PcapFormat.FileHeaderLength;
    private const int RecordHeaderLength = PcapFormat.RecordHeaderLength;

    private readonly CaptureFileWindow _window;
    private readonly CaptureFileOptions _options;
    private bool _bigEndian;
    private bool _nanoseconds;
    private uint _snapLength;
    private LinkType _linkType;
    private bool _headerRead;
    private long _frameNumber;
    private CaptureError? _error;

    public PcapReader(CaptureFileWindow window, string name, CaptureFileOptions options)
    {
        _window = window;
        Name = name;
        _options = options;
    }

    public string Name { get; }
    public CaptureError? Error => _error;

    /// <summary>Link type from the file header (valid after the first read).</summary>
    public LinkType LinkType => _linkType;
    public uint SnapLength => _snapLength;

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        if (_error is not null) return CaptureReadStatus.Error;
        try
        {
            return ReadNext(ref frame);
        }
        catch (IOException e)
        {
            return Fail(_window.Position, "read_error", "reading failed: " + e.Message);
        }
    }

    private CaptureReadStatus ReadNext(ref CaptureFrame frame)
    {
        if (!_headerRead && !ReadFileHeader()) return CaptureReadStatus.Error;

        long recordOffset = _window.Position;
        if (!_window.Ensure(RecordHeaderLength))
        {
            if (_window.Available == 0) return CaptureReadStatus.EndOfCapture;
            return Fail(recordOffset, "cut_short",
                $"the file ends inside a record header ({_window.Available} of {RecordHeaderLength} bytes present)");
        }
        var header = _window.Span;
        uint seconds = Read32(header);
        uint fraction = Read32(header[4..]);
        uint capturedLength = Read32(header[8..]);
        uint originalLength = Read32(header[12..]);

        if (capturedLength > (uint)_options.MaxRecordLength)
            return Fail(recordOffset, "bad_record_length",
                $"record claims {capturedLength} captured bytes, more than the {_options.MaxRecordLength}-byte limit; the file is corrupt");
        // A record longer than the header's snaplen is accepted by default, as libpcap and wiretap
        // accept it (editcap and some writers leave a stale snaplen); the absolute limit above is
        // what marks corruption unless the caller asks for the strict check.
        if (_options.RejectRecordsAboveSnapLength && _snapLength != 0 && capturedLength > _snapLength)
            return Fail(recordOffset, "bad_record_length",
                $"record claims {capturedLength} captured bytes, more than the file's snaplen {_snapLength}");

        int total = RecordHeaderLength + (int)capturedLength;
        if (!_window.Ensure(total))
            return Fail(recordOffset, "cut_short",
                $"the file ends inside a record ({_window.Available - RecordHeaderLength} of {capturedLength} captured bytes present)");

        var record = _window.Span;
        long subsecondNs = _nanoseconds ? fraction : fraction * 1000L;
        frame.Number = ++_frameNumber;
        frame.TimestampNs = seconds * 1_000_000_000L + subsecondNs;
        frame.OriginalLength = originalLength > int.MaxValue ? int.MaxValue : (int)originalLength;
        frame.LinkType = _linkType;
        frame.InterfaceId = 0;
        frame.FileOffset = recordOffset;
        frame.Data = record.Slice(RecordHeaderLength, (int)capturedLength);
        _window.Advance(total);
        return CaptureReadStatus.Frame;
    }

    private bool ReadFileHeader()
    {
        if (!_window.Ensure(FileHeaderLength))
        {
            Fail(0, "cut_short", $"the file ends inside the pcap file header ({_window.Available} of {FileHeaderLength} bytes)");
            return false;
        }
        var h = _window.Span;
        uint magic = BinaryPrimitives.ReadUInt32LittleEndian(h);
        _bigEndian = magic is not (CaptureFile.PcapMicroseconds or CaptureFile.PcapNanoseconds);
        if (_bigEndian) magic = BinaryPrimitives.ReverseEndianness(magic);
        _nanoseconds = magic == CaptureFile.PcapNanoseconds;
        _snapLength = Read32(h[16..]);
        // The upper 16 bits carry the FCS length and flags, not the link type.
        _linkType = (LinkType)(Read32(h[20..]) & 0xFFFF);
        _window.Advance(FileHeaderLength);
        _headerRead = true;
        return true;
    }

    private uint Read32(ReadOnlySpan<byte> bytes) =>
        _bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt32LittleEndian(bytes);

    private CaptureReadStatus Fail(long offset, string kind, string message)
    {
        _error = new CaptureError(Name, offset, kind, message);
        return CaptureReadStatus.Error;
    }

    public void Dispose() => _window.Dispose();
}
