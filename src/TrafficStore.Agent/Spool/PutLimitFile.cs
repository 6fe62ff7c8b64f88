using System.Globalization;

namespace TrafficStore.Agent.Spool;

/// <summary>
/// The DoPut message limit the shipper learned from a server's refusal (ResourceExhausted), kept in the spool
/// directory (file <c>put-limit</c>: <c>"BYTES SERVER_URL\n"</c>) so a restarted agent starts below that server's
/// limit instead of having its first large message refused again. A limit learned from another server URL does
/// not apply. Replaced like the spool's other small files (<see cref="SpoolDirectory.Replace"/>: temp file, fsync,
/// rename, directory fsync). A file that cannot be read or is not that line (torn by a crash of an older agent,
/// damaged) is not used: the shipper starts at its default bound and says why (<see cref="Load"/>'s problem).
/// </summary>
public static class PutLimitFile
{
    public const string FileName = "put-limit";

    /// <summary>
    /// The limit learned for <paramref name="server"/>, or null: no file, a limit for another server, or a file
    /// that could not be used, which <paramref name="problem"/> then describes (one line, naming the file).
    /// </summary>
    public static long? Load(string spoolDirectory, Uri server, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(server);
        problem = null;
        string path = Path.Combine(spoolDirectory, FileName);
        string text;
        try
        {
            if (!File.Exists(path)) return null;
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"{path} cannot be read ({e.Message}); DoPut messages start at the default bound";
            return null;
        }
        // Exactly one line "BYTES URL\n": without its newline the file was cut short while being written.
        var parts = text.EndsWith('\n') ? text[..^1].Split(' ', 2) : [];
        if (parts.Length != 2 || parts[1].Length == 0 || parts[1].Contains('\n')
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long limit) || limit <= 0)
        {
            problem = $"{path} is damaged (expected \"BYTES SERVER_URL\", found {Describe(text)}); DoPut messages start at the default bound";
            return null;
        }
        return parts[1] == Key(server) ? limit : null;
    }

    /// <summary>Keeps <paramref name="limit"/> for <paramref name="server"/>; durable when this returns (IOException if not).</summary>
    public static void Save(string spoolDirectory, Uri server, long limit)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        SpoolDirectory.Replace(Path.Combine(spoolDirectory, FileName), string.Create(CultureInfo.InvariantCulture, $"{limit} {Key(server)}\n"));
    }

    /// <summary>
    /// The server as the file names it: its absolute URI, with any non-ASCII character (an IDN host keeps its
    /// Unicode form there) percent-encoded as UTF-8, since the spool's small files are ASCII.
    /// </summary>
    private static string Key(Uri server)
    {
        string uri = server.AbsoluteUri;
        if (uri.All(char.IsAscii)) return uri;
        var key = new System.Text.StringBuilder(uri.Length * 2);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in uri.EnumerateRunes())
        {
            if (rune.IsAscii) { key.Append((char)rune.Value); continue; }
            int n = rune.EncodeToUtf8(utf8);
            foreach (byte b in utf8[..n]) key.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return key.ToString();
    }

    private static string Describe(string text)
    {
        if (text.Length == 0) return "an empty file";
        const int Shown = 40;
        var shown = new string([.. text.Take(Shown).Select(c => char.IsControl(c) || c > '~' ? '?' : c)]);
        return $"{text.Length} characters \"{shown}{(text.Length > Shown ? "..." : "")}\"";
    }
}
