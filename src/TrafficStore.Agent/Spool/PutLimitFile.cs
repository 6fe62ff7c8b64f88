using System.Globalization;
using System.Text;

namespace TrafficStore.Agent.Spool;

/// <summary>
/// The DoPut message limit the shipper learned from a server's refusal (ResourceExhausted), kept in the spool
/// directory (file <c>put-limit</c>: <c>"BYTES SERVER_URL\n"</c>) so a restarted agent starts below that server's
/// limit instead of having its first large message refused again. A limit learned from another server URL does
/// not apply. Written to a temp file, fsync'd and renamed.
/// </summary>
public static class PutLimitFile
{
    public const string FileName = "put-limit";

    /// <summary>The limit learned for <paramref name="server"/>, or null (none, another server, unreadable).</summary>
    public static long? Load(string spoolDirectory, Uri server)
    {
        string path = Path.Combine(spoolDirectory, FileName);
        if (!File.Exists(path)) return null;
        var parts = File.ReadAllText(path).Split(' ', 2, StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || parts[1] != server.AbsoluteUri) return null;
        return long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out long limit) && limit > 0 ? limit : null;
    }

    public static void Save(string spoolDirectory, Uri server, long limit)
    {
        string path = Path.Combine(spoolDirectory, FileName);
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            f.Write(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{limit} {server.AbsoluteUri}\n")));
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
    }
}
