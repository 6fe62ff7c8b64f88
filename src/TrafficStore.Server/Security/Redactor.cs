using System.Text;
using System.Text.RegularExpressions;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Server.Security;

/// <summary>
/// Redacts what a token without <c>payloads:read</c> must not see, column by column of a result batch:
/// <list type="bullet">
/// <item>body columns (binary or utf8 columns whose name contains "body") become null;</item>
/// <item>raw frame bytes (the binary <c>data</c> column of <c>packets</c>) become null: frames carry the
/// same bodies and headers, unredacted (metadata columns stay);</item>
/// <item>in header columns (utf8, name contains "header"), the values of <c>Authorization</c>,
/// <c>Proxy-Authorization</c>, <c>Cookie</c> and <c>Set-Cookie</c> become <c>[redacted]</c>;</item>
/// <item>in every other utf8 column, digit runs that are Luhn-valid card numbers (13-19 digits,
/// spaces or dashes allowed between them) become <c>[card]</c>.</item>
/// </list>
/// Length and count columns (int64) are kept: they say that there was a body, not what it held.
/// </summary>
public static partial class Redactor
{
    public const string Redacted = "[redacted]";
    public const string CardMask = "[card]";
    /// <summary>The packets table's frame bytes column.</summary>
    public const string RawFrameColumn = "data";

    private static readonly string[] SensitiveHeaders = ["authorization", "proxy-authorization", "cookie", "set-cookie"];

    [GeneratedRegex(@"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")]
    private static partial Regex CardCandidate();

    public static RecordBatch Redact(RecordBatch batch)
    {
        var fields = batch.Schema.FieldsList;
        IArrowArray[]? columns = null;
        for (int c = 0; c < fields.Count; c++)
        {
            var field = fields[c];
            var name = field.Name.ToLowerInvariant();
            var column = batch.Column(c);
            IArrowArray? replacement = null;
            bool rawFrames = name == RawFrameColumn && field.DataType.TypeId is ArrowTypeId.Binary;
            if (rawFrames || name.Contains("body") && field.DataType.TypeId is ArrowTypeId.Binary or ArrowTypeId.String)
                replacement = AllNull(field.DataType, column.Length);
            else if (column is StringArray strings)
                replacement = MapStrings(strings, name.Contains("header") ? RedactHeaders : MaskCards);
            if (replacement is null) continue;
            columns ??= Enumerable.Range(0, fields.Count).Select(batch.Column).ToArray();
            columns[c] = replacement;
        }
        return columns is null ? batch : new RecordBatch(batch.Schema, columns, batch.Length);
    }

    /// <summary>Header block text ("Name: value" lines) with sensitive values replaced.</summary>
    public static string RedactHeaders(string headers)
    {
        var sb = new StringBuilder(headers.Length);
        int start = 0;
        while (start < headers.Length)
        {
            int nl = headers.IndexOf('\n', start);
            int end = nl < 0 ? headers.Length : nl + 1;
            var line = headers.AsSpan(start, end - start);
            int colon = line.IndexOf(':');
            if (colon > 0 && IsSensitive(line[..colon].Trim()))
            {
                sb.Append(line[..(colon + 1)]).Append(' ').Append(Redacted);
                if (line.EndsWith("\r\n")) sb.Append("\r\n");
                else if (line.EndsWith("\n")) sb.Append('\n');
            }
            else
            {
                sb.Append(MaskCards(line.ToString()));
            }
            start = end;
        }
        return sb.ToString();
    }

    public static bool IsSensitive(ReadOnlySpan<char> headerName)
    {
        foreach (var h in SensitiveHeaders)
            if (headerName.Equals(h, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>Replaces Luhn-valid card numbers in <paramref name="text"/> with <see cref="CardMask"/>.</summary>
    public static string MaskCards(string text)
    {
        if (text.Length < 13 || !HasDigitRun(text)) return text;
        return CardCandidate().Replace(text, m => IsLuhnValid(m.ValueSpan) ? CardMask : m.Value);
    }

    private static bool HasDigitRun(string text)
    {
        int run = 0;
        foreach (var ch in text)
        {
            if (char.IsAsciiDigit(ch)) { if (++run >= 4) return true; }
            else if (ch != ' ' && ch != '-') run = 0;
        }
        return false;
    }

    public static bool IsLuhnValid(ReadOnlySpan<char> number)
    {
        int sum = 0, digits = 0;
        for (int i = number.Length - 1; i >= 0; i--)
        {
            char ch = number[i];
            if (!char.IsAsciiDigit(ch)) continue;
            int d = ch - '0';
            if ((digits & 1) == 1) { d *= 2; if (d > 9) d -= 9; }
            sum += d;
            digits++;
        }
        return digits is >= 13 and <= 19 && sum % 10 == 0;
    }

    private static IArrowArray AllNull(IArrowType type, int length)
    {
        if (type.TypeId == ArrowTypeId.String)
        {
            var b = new StringArray.Builder();
            for (int i = 0; i < length; i++) b.AppendNull();
            return b.Build();
        }
        var bin = new BinaryArray.Builder();
        for (int i = 0; i < length; i++) bin.AppendNull();
        return bin.Build();
    }

    private static StringArray? MapStrings(StringArray source, Func<string, string> map)
    {
        bool changed = false;
        var values = new string?[source.Length];
        for (int i = 0; i < source.Length; i++)
        {
            var s = source.GetString(i);
            if (s is null) continue;
            var m = map(s);
            if (!ReferenceEquals(m, s) && m != s) changed = true;
            values[i] = m;
        }
        if (!changed) return null;
        var b = new StringArray.Builder();
        foreach (var v in values)
        {
            if (v is null) b.AppendNull();
            else b.Append(v);
        }
        return b.Build();
    }
}
