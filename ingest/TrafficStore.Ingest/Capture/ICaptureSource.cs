namespace TrafficStore.Ingest.Capture;

/// <summary>
/// A stream of captured frames: a pcap or pcapng file, or a live interface. Sources never throw
/// on bad input: a read that cannot continue returns <see cref="CaptureReadStatus.Error"/> and
/// <see cref="Error"/> says why and where, and every frame handed out before it stays valid.
/// </summary>
public interface ICaptureSource : IDisposable
{
    /// <summary>A name for messages: the file path or the interface name.</summary>
    string Name { get; }

    /// <summary>Reads the next frame into <paramref name="frame"/>.</summary>
    CaptureReadStatus TryReadNext(ref CaptureFrame frame);

    /// <summary>Set once <see cref="TryReadNext"/> returned <see cref="CaptureReadStatus.Error"/>.</summary>
    CaptureError? Error { get; }
}

public enum CaptureReadStatus : byte
{
    Frame,
    EndOfCapture,
    Error,
}

/// <summary>Why a capture could not be read to its end, and where.</summary>
/// <param name="Source">File path or interface name.</param>
/// <param name="ByteOffset">Offset in the file of the record or block that failed (-1 if not a file).</param>
/// <param name="Kind">A stable snake_case name, e.g. <c>cut_short</c>, <c>bad_magic</c>, <c>corrupt_block</c>.</param>
/// <param name="Message">What a person needs to know.</param>
public sealed record CaptureError(string Source, long ByteOffset, string Kind, string Message)
{
    public override string ToString() =>
        ByteOffset >= 0 ? $"{Source}: {Message} (at byte offset {ByteOffset}; {Kind})" : $"{Source}: {Message} ({Kind})";
}
