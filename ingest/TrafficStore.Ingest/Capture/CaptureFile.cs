using System.Buffers.Binary;

namespace TrafficStore.Ingest.Capture;

/// <summary>Options for reading capture files.</summary>
public sealed record CaptureFileOptions
{
    /// <summary>Size of the single reusable read buffer.</summary>
    public int BufferSize { get; init; } = 1 << 20;

    /// <summary>
    /// Largest captured length accepted for one pcap record (libpcap's and wiretap's limit is 256 KiB);
    /// a longer one means the file is corrupt (<c>bad_record_length</c>).
    /// </summary>
    public int MaxRecordLength { get; init; } = 256 * 1024;

    /// <summary>
    /// When true, a pcap record whose captured length exceeds the file header's snaplen (if non-zero)
    /// is reported as <c>bad_record_length</c>. Off by default, as in wiretap and libpcap, which
    /// accept such records (a stale snaplen is common after editing).
    /// </summary>
    public bool RejectRecordsAboveSnapLength { get; init; }

    /// <summary>Largest pcapng block accepted; a longer one is reported as <c>corrupt_block</c>.</summary>
    public int MaxBlockLength { get; init; } = 16 * 1024 * 1024;

    public static CaptureFileOptions Default { get; } = new();
}

/// <summary>What a capture file's magic number says it is.</summary>
public enum CaptureFileKind { Unknown, Pcap, PcapNg }

/// <summary>Opens pcap and pcapng files, detecting the format from the first four bytes.</summary>
public static class CaptureFile
{
    internal const uint PcapMicroseconds = PcapFormat.MicrosecondMagic;
    internal const uint PcapNanoseconds = PcapFormat.NanosecondMagic;
    internal const uint PcapNgSectionHeader = 0x0A0D0D0A;

    /// <summary>The format a file's first four bytes name: pcap (either byte order, µs or ns), pcapng, or neither.</summary>
    public static CaptureFileKind KindOf(ReadOnlySpan<byte> head)
    {
        if (head.Length < 4) return CaptureFileKind.Unknown;
        uint le = BinaryPrimitives.ReadUInt32LittleEndian(head), be = BinaryPrimitives.ReadUInt32BigEndian(head);
        if (le is PcapMicroseconds or PcapNanoseconds || be is PcapMicroseconds or PcapNanoseconds) return CaptureFileKind.Pcap;
        return le == PcapNgSectionHeader ? CaptureFileKind.PcapNg : CaptureFileKind.Unknown;
    }

    /// <summary>
    /// Opens <paramref name="path"/>. Format problems never throw: an unknown, empty or unreadable
    /// file gives a source whose first <see cref="ICaptureSource.TryReadNext"/> returns
    /// <see cref="CaptureReadStatus.Error"/>. A missing file throws <see cref="FileNotFoundException"/>.
    /// </summary>
    public static ICaptureSource Open(string path, CaptureFileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= CaptureFileOptions.Default;
        if (!File.Exists(path)) throw new FileNotFoundException("Capture file not found.", path);
        Stream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FailedCaptureSource(new CaptureError(path, 0, "read_error", "cannot open the file: " + e.Message));
        }
        return Open(stream, path, options);
    }

    /// <summary>Reads a capture from any stream (tests use memory streams). The source owns the stream.</summary>
    public static ICaptureSource Open(Stream stream, string name, CaptureFileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(name);
        options ??= CaptureFileOptions.Default;
        var window = new CaptureFileWindow(stream, options.BufferSize);
        try
        {
            if (!window.Ensure(4))
            {
                int have = window.Available;
                window.Dispose();
                return have == 0
                    ? new FailedCaptureSource(new CaptureError(name, 0, "empty_file", "the file is empty"))
                    : new FailedCaptureSource(new CaptureError(name, 0, "unknown_format", $"the file has only {have} bytes, too few for any capture format"));
            }
        }
        catch (IOException e)
        {
            window.Dispose();
            return new FailedCaptureSource(new CaptureError(name, 0, "read_error", e.Message));
        }
        switch (KindOf(window.Span))
        {
            case CaptureFileKind.Pcap: return new PcapReader(window, name, options);
            case CaptureFileKind.PcapNg: return new PcapNgReader(window, name, options);
        }
        uint magicBe = BinaryPrimitives.ReadUInt32BigEndian(window.Span);
        window.Dispose();
        return new FailedCaptureSource(new CaptureError(name, 0, "unknown_format",
            $"not a pcap or pcapng file (first bytes 0x{magicBe:x8})"));
    }
}

/// <summary>A source that could not even start: its first read reports the error.</summary>
internal sealed class FailedCaptureSource(CaptureError error) : ICaptureSource
{
    private bool _reported;
    public string Name => error.Source;
    public CaptureError? Error => _reported ? error : null;

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        _reported = true;
        return CaptureReadStatus.Error;
    }

    public void Dispose() { }
}
