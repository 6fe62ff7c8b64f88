namespace TrafficStore.Ingest.Tests.Oracle;

/// <summary>
/// One section (tcp, dns, tls, http) of a tshark-oracle CSV: the header and the rows as
/// dictionaries from column name to the raw text.
/// </summary>
public sealed record OracleSection(string Name, IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyDictionary<string, string>> Rows);

/// <summary>Reads ../shared/oracle/NAME.csv (made by shared/tools/tshark-oracle.sh).</summary>
public static class OracleFile
{
    public static IReadOnlyDictionary<string, OracleSection> Read(string path)
    {
        var sections = new Dictionary<string, OracleSection>(StringComparer.Ordinal);
        string? name = null;
        List<string>? header = null;
        List<IReadOnlyDictionary<string, string>>? rows = null;
        foreach (var record in Csv.ReadRecords(File.ReadAllText(path)))
        {
            if (record.Count == 1 && record[0].StartsWith("# section: ", StringComparison.Ordinal))
            {
                if (name is not null) sections[name] = new OracleSection(name, header!, rows!);
                name = record[0]["# section: ".Length..];
                header = null;
                rows = new();
                continue;
            }
            if (record.Count == 1 && record[0].Length == 0) continue;
            if (name is null) continue;
            if (header is null) { header = record; continue; }
            var row = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Count; i++) row[header[i]] = i < record.Count ? record[i] : "";
            rows!.Add(row);
        }
        if (name is not null) sections[name] = new OracleSection(name, header ?? new List<string>(), rows!);
        return sections;
    }

    public static OracleSection Section(string pcapName, string section) =>
        Read(SharedData.Oracle(pcapName)).TryGetValue(section, out var s)
            ? s
            : new OracleSection(section, Array.Empty<string>(), Array.Empty<IReadOnlyDictionary<string, string>>());
}

/// <summary>A small RFC 4180 reader (quoted fields may hold commas, quotes and newlines).</summary>
public static class Csv
{
    public static IEnumerable<List<string>> ReadRecords(string text)
    {
        var record = new List<string>();
        var field = new System.Text.StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else quoted = false;
                }
                else field.Append(ch);
                continue;
            }
            switch (ch)
            {
                case '"': quoted = true; any = true; break;
                case ',': record.Add(field.ToString()); field.Clear(); any = true; break;
                case '\r': break;
                case '\n':
                    record.Add(field.ToString()); field.Clear();
                    yield return record;
                    record = new List<string>(); any = false;
                    break;
                default: field.Append(ch); any = true; break;
            }
        }
        if (any || field.Length > 0) { record.Add(field.ToString()); yield return record; }
    }

    /// <summary>Reads a CSV with a header row into dictionaries.</summary>
    public static List<Dictionary<string, string>> ReadTable(string text)
    {
        var records = ReadRecords(text).ToList();
        var result = new List<Dictionary<string, string>>();
        if (records.Count == 0) return result;
        var header = records[0];
        foreach (var r in records.Skip(1))
        {
            if (r.Count == 1 && r[0].Length == 0) continue;
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Count; i++) d[header[i]] = i < r.Count ? r[i] : "";
            result.Add(d);
        }
        return result;
    }
}
