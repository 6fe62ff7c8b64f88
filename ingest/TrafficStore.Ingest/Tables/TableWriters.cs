using System.Text;
using System.Text.Json;

namespace TrafficStore.Ingest.Tables;

/// <summary>Writes rows of a <see cref="TableDefinition{T}"/> as CSV (RFC 4180), JSON lines or an aligned text table.</summary>
public static class TableWriters
{
    public static void WriteCsv<T>(TextWriter output, TableDefinition<T> table, IEnumerable<T> rows)
    {
        output.Write(string.Join(',', table.Columns.Select(c => CsvField(c.Name))));
        output.Write('\n');
        var line = new StringBuilder();
        foreach (var row in rows)
        {
            line.Clear();
            for (int i = 0; i < table.Columns.Count; i++)
            {
                if (i > 0) line.Append(',');
                line.Append(CsvField(table.Columns[i].FormatText(row)));
            }
            line.Append('\n');
            output.Write(line);
        }
    }

    /// <summary>One JSON object per line; timestamps and durations as integer nanoseconds.</summary>
    public static void WriteJsonLines<T>(TextWriter output, TableDefinition<T> table, IEnumerable<T> rows)
    {
        var buffer = new MemoryStream();
        foreach (var row in rows)
        {
            buffer.SetLength(0);
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                foreach (var c in table.Columns)
                {
                    json.WritePropertyName(c.Name);
                    WriteJsonValue(json, c, row);
                }
                json.WriteEndObject();
            }
            output.Write(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            output.Write('\n');
        }
    }

    private static void WriteJsonValue<T>(Utf8JsonWriter json, Column<T> c, T row)
    {
        switch (c.Kind)
        {
            case ColumnKind.Int64:
            case ColumnKind.TimestampNs:
            case ColumnKind.DurationNs:
                if (c.GetInt64(row) is { } l) json.WriteNumberValue(l); else json.WriteNullValue();
                break;
            case ColumnKind.Double:
                if (c.GetDouble(row) is { } d && double.IsFinite(d)) json.WriteNumberValue(d); else json.WriteNullValue();
                break;
            case ColumnKind.String:
                if (c.GetString(row) is { } s) json.WriteStringValue(s); else json.WriteNullValue();
                break;
            case ColumnKind.Boolean:
                if (c.GetBoolean(row) is { } b) json.WriteBooleanValue(b); else json.WriteNullValue();
                break;
            case ColumnKind.Binary:
                if (c.GetBinary(row) is { } m) json.WriteBase64StringValue(m.Span); else json.WriteNullValue();
                break;
        }
    }

    /// <summary>An aligned, human-readable table of the chosen columns (all when <paramref name="columns"/> is null).</summary>
    public static void WriteText<T>(TextWriter output, TableDefinition<T> table, IEnumerable<T> rows, IReadOnlyList<string>? columns = null)
    {
        var cols = columns is null ? table.Columns.ToList() : columns.Select(n => table[n]).ToList();
        var cells = new List<string[]> { cols.Select(c => c.Name).ToArray() };
        foreach (var row in rows) cells.Add(cols.Select(c => Printable(c.FormatText(row))).ToArray());
        var widths = new int[cols.Count];
        foreach (var r in cells)
            for (int i = 0; i < r.Length; i++) widths[i] = Math.Max(widths[i], Math.Min(r[i].Length, 60));
        foreach (var r in cells)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < r.Length; i++)
            {
                string v = r[i].Length > 60 ? r[i][..57] + "..." : r[i];
                sb.Append(v.PadRight(widths[i]));
                if (i < r.Length - 1) sb.Append("  ");
            }
            output.WriteLine(sb.ToString().TrimEnd());
        }
    }

    private static string Printable(string s) => s.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\t", "\\t");

    /// <summary>RFC 4180 quoting: only fields holding a comma, quote, CR or LF are quoted.</summary>
    public static string CsvField(string value)
    {
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0) return value;
        return "\"" + value.Replace("\"", "\"\"") + "\"";
    }
}
