using System.Text.Json;
using Apache.Arrow;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Cli.Query;

public enum ResultFormat { Table, Csv, Json }

/// <summary>
/// Writes query results: csv (header + rows, values as the inspect CSV prints them), json (one object
/// per line, the same convention as <c>inspect --format json</c>: native numbers and booleans, times
/// and durations as integer nanoseconds, binary as base64), or an
/// aligned text table (buffered in pages of 1000 rows so widths fit without holding the whole result).
/// </summary>
public static class ResultWriter
{
    private const int TablePage = 1000;

    public static async Task<long> WriteAsync(TextWriter output, ResultFormat format, Schema schema, IAsyncEnumerable<RecordBatch> batches, CancellationToken ct = default)
    {
        var names = schema.FieldsList.Select(f => f.Name).ToList();
        long rows = 0;
        var page = new List<string[]>();
        if (format == ResultFormat.Csv) output.WriteLine(string.Join(",", names.Select(TableWriters.CsvField)));
        await foreach (var b in batches.WithCancellation(ct))
        {
            for (int i = 0; i < b.Length; i++)
            {
                rows++;
                switch (format)
                {
                    case ResultFormat.Csv:
                        output.WriteLine(string.Join(",", Enumerable.Range(0, b.ColumnCount).Select(c => TableWriters.CsvField(ArrowValueFormatter.Format(b.Column(c), i)))));
                        break;
                    case ResultFormat.Json:
                        WriteJson(output, names, b, i);
                        break;
                    default:
                        page.Add(Enumerable.Range(0, b.ColumnCount).Select(c => OneLine(ArrowValueFormatter.Format(b.Column(c), i))).ToArray());
                        if (page.Count == TablePage) { WriteTable(output, names, page, header: rows == TablePage); page.Clear(); }
                        break;
                }
            }
        }
        if (format == ResultFormat.Table && (page.Count > 0 || rows == 0)) WriteTable(output, names, page, header: rows <= TablePage);
        output.Flush();
        return rows;
    }

    private static void WriteJson(TextWriter output, List<string> names, RecordBatch b, int i)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            for (int c = 0; c < b.ColumnCount; c++)
            {
                var array = b.Column(c);
                json.WritePropertyName(names[c]);
                if (array.IsNull(i)) { json.WriteNullValue(); continue; }
                switch (array)
                {
                    case TimestampArray or DurationArray: json.WriteNumberValue((long)ArrowValueFormatter.GetValue(array, i)!); break;
                    case StringArray a: json.WriteStringValue(a.GetString(i)); break; // before BinaryArray: StringArray derives from it
                    case BinaryArray a: json.WriteBase64StringValue(a.GetBytes(i)); break;
                    case Int64Array a: json.WriteNumberValue(a.GetValue(i)!.Value); break;
                    case DoubleArray a when double.IsFinite(a.GetValue(i)!.Value): json.WriteNumberValue(a.GetValue(i)!.Value); break;
                    case BooleanArray a: json.WriteBooleanValue(a.GetValue(i)!.Value); break;
                    default: json.WriteStringValue(ArrowValueFormatter.Format(array, i)); break;
                }
            }
            json.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>A table cell stays on its line: line breaks and tabs (header blocks, bodies) are shown escaped.</summary>
    private static string OneLine(string value) =>
        value.AsSpan().IndexOfAny('\r', '\n', '\t') < 0 ? value : value.Replace("\r", "\\r").Replace("\n", "\\n").Replace("\t", "\\t");

    private static void WriteTable(TextWriter output, List<string> names, List<string[]> rows, bool header)
    {
        var widths = names.Select((n, c) => Math.Min(60, Math.Max(n.Length, rows.Count == 0 ? 0 : rows.Max(r => r[c].Length)))).ToArray();
        string Cell(string v, int w) => (v.Length > w ? v[..(w - 1)] + "…" : v).PadRight(w);
        if (header) output.WriteLine(string.Join("  ", names.Select((n, c) => Cell(n, widths[c]))).TrimEnd());
        foreach (var r in rows) output.WriteLine(string.Join("  ", r.Select((v, c) => Cell(v, widths[c]))).TrimEnd());
    }
}
