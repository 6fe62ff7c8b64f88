using System.Globalization;
using System.Text;

namespace TrafficStore.Store.Observability;

/// <summary>
/// Builds a Prometheus text exposition (format 0.0.4): HELP/TYPE lines and samples with optional
/// labels. Shared by the server's and the agent's /metrics.
/// </summary>
public sealed class PrometheusTextWriter
{
    private readonly StringBuilder _text = new();

    /// <summary>Starts a metric family.</summary>
    public PrometheusTextWriter Metric(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <summary>One sample; <paramref name="labels"/> is the text between the braces (already escaped).</summary>
    public PrometheusTextWriter Sample(string name, double value, string labels = "")
    {
        _text.Append(name);
        if (labels.Length > 0) _text.Append('{').Append(labels).Append('}');
        _text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        return this;
    }

    /// <summary>A gauge family with its one unlabelled sample.</summary>
    public PrometheusTextWriter Gauge(string name, string help, double value) => Metric(name, "gauge", help).Sample(name, value);

    /// <summary>A counter family with its one unlabelled sample.</summary>
    public PrometheusTextWriter Counter(string name, string help, double value) => Metric(name, "counter", help).Sample(name, value);

    /// <summary>Escapes a label value (backslash, double quote, newline).</summary>
    public static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    public override string ToString() => _text.ToString();
}
