namespace TrafficStore.Engine.Retention;

/// <summary>Limits of one scope; null means no limit.</summary>
public sealed record RetentionLimits(TimeSpan? MaxAge = null, long? MaxBytes = null);

/// <summary>
/// Global limits (all tables together) and per-namespace limits (rows whose namespace column,
/// see <see cref="Catalog.TableSpec.NamespaceColumn"/>, equals the key). Persisted in retention.json.
/// </summary>
public sealed record RetentionPolicy
{
    public RetentionLimits Global { get; init; } = new();
    public IReadOnlyDictionary<string, RetentionLimits> Namespaces { get; init; } = new Dictionary<string, RetentionLimits>();

    public static RetentionPolicy None { get; } = new();
}

public enum RetentionActionKind { DeletedSegment, RewroteSegment }

/// <summary>One deletion done by retention (also sent to <see cref="StoreOptions.Log"/> and <see cref="TrafficStoreEngine.RetentionApplied"/>).</summary>
public sealed record RetentionAction(RetentionActionKind Kind, string Table, long SegmentId, long PartitionStart, string? Namespace, long RowsDeleted, long BytesFreed, string Reason);

/// <summary>Everything one <see cref="TrafficStoreEngine.ApplyRetentionAsync"/> run did.</summary>
public sealed record RetentionReport(IReadOnlyList<RetentionAction> Actions)
{
    public long RowsDeleted => Actions.Sum(a => a.RowsDeleted);
    public long BytesFreed => Actions.Sum(a => a.BytesFreed);
}
