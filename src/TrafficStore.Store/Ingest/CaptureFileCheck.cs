using System.Text;
using TrafficStore.Ingest.Capture;

namespace TrafficStore.Store.Ingest;

/// <summary>
/// A file given to ingest that is not a capture at all (empty, or not starting with a pcap or pcapng magic number):
/// refused before anything is stored, so it takes no capture id and writes no capture_stats row.
/// </summary>
public sealed class NotACaptureFileException(string path, string message) : IOException(message)
{
    public string Path { get; } = path;
}

/// <summary>
/// Looks at the first bytes of a file before ingest: a pcap (either byte order, µs or ns) or pcapng file starts with
/// its magic number (<see cref="CaptureFile.KindOf"/>, as ingest opens it); anything else is said plainly, with the first
/// bytes shown and the common look-alikes named (compressed captures above all: they need decompressing first).
/// A capture whose header is fine but which is cut short later is not this check's business: its frames are stored.
/// </summary>
public static class CaptureFileCheck
{
    private const int ShownBytes = 8;

    /// <summary>Throws <see cref="NotACaptureFileException"/> when <paramref name="path"/> is empty or no pcap/pcapng file.</summary>
    public static void ThrowIfNotCapture(string path)
    {
        Span<byte> head = stackalloc byte[ShownBytes];
        int read;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1))
            read = file.ReadAtLeast(head, ShownBytes, throwOnEndOfStream: false);
        if (Describe(head[..read]) is { } what)
            throw new NotACaptureFileException(path, $"{path}: not a pcap or pcapng file: {what}; nothing was stored");
    }

    /// <summary>Null for a capture's first bytes, else what they are.</summary>
    public static string? Describe(ReadOnlySpan<byte> head)
    {
        if (head.Length == 0) return "the file is empty";
        if (CaptureFile.KindOf(head) != CaptureFileKind.Unknown) return null;
        var shown = $"its first bytes are {Convert.ToHexString(head).ToLowerInvariant()} ({Printable(head)})";
        return Kind(head) is { } kind ? $"{shown}, {kind}" : shown;
    }

    private static string? Kind(ReadOnlySpan<byte> h) => h switch
    {
        [0x1F, 0x8B, ..] => "a gzip file: decompress it first (gunzip)",
        [0x28, 0xB5, 0x2F, 0xFD, ..] => "a zstd file: decompress it first (zstd -d)",
        [0xFD, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', ..] => "an xz file: decompress it first (xz -d)",
        [(byte)'B', (byte)'Z', (byte)'h', ..] => "a bzip2 file: decompress it first (bunzip2)",
        [(byte)'P', (byte)'K', 3, 4, ..] => "a zip archive: extract the capture first",
        [0x7F, (byte)'E', (byte)'L', (byte)'F', ..] => "an ELF executable",
        _ when IsText(h) => "text",
        _ => null,
    };

    private static bool IsText(ReadOnlySpan<byte> h)
    {
        foreach (var b in h) if (b is < 0x20 and not ((byte)'\n' or (byte)'\r' or (byte)'\t') or >= 0x7F) return false;
        return true;
    }

    /// <summary>The bytes as ASCII, others as '.', quoted.</summary>
    private static string Printable(ReadOnlySpan<byte> h)
    {
        var text = new StringBuilder(h.Length + 2).Append('"');
        foreach (var b in h) text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        return text.Append('"').ToString();
    }
}
