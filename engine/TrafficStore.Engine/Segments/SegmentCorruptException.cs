namespace TrafficStore.Engine.Segments;

/// <summary>
/// A sealed segment failed a checksum or structural check. The engine moves the file to
/// <c>quarantine/</c> and never serves it; queries report it through <see cref="Query.QueryDiagnostics.Warnings"/>
/// (or throw this when <see cref="Query.QuerySpec.FailOnCorruption"/> is set).
/// </summary>
public sealed class SegmentCorruptException : IOException
{
    public SegmentCorruptException(string path, string reason, Exception? inner = null)
        : base($"Segment '{path}' is corrupt: {reason}", inner)
    {
        SegmentPath = path;
        Reason = reason;
    }

    public string SegmentPath { get; }
    public string Reason { get; }
}
