namespace TrafficStore.Engine;

/// <summary>
/// Who sent a batch and which one it is, so a batch sent again (its acknowledgement was lost) is stored once
/// (<see cref="TrafficStoreEngine.AppendOnceAsync"/>). <paramref name="Source"/> names one producer (a node
/// agent's id); <paramref name="Batch"/> numbers its batches, increasing in the order it sends them;
/// <paramref name="FirstRow"/> is where these rows start within that batch (a large batch may arrive as row
/// slices: 0 for the first slice or a whole batch).
/// </summary>
public readonly record struct Delivery(string Source, long Batch, long FirstRow)
{
    /// <summary>Longest source name accepted (it is stored with every WAL record of the source).</summary>
    public const int MaxSourceLength = 128;
}

/// <summary>
/// How far a source's deliveries are stored: every row of its batches before <see cref="Batch"/>, and the rows
/// of <see cref="Batch"/> before <see cref="RowEnd"/>. Ordered by batch, then row.
/// </summary>
public readonly record struct DeliveryMark(long Batch, long RowEnd) : IComparable<DeliveryMark>
{
    public int CompareTo(DeliveryMark other) => Batch != other.Batch ? Batch.CompareTo(other.Batch) : RowEnd.CompareTo(other.RowEnd);
}

/// <summary>
/// A new delivery source was refused: the store already keeps <see cref="Limit"/> sources' marks
/// (<see cref="StoreOptions.MaxDeliverySources"/>) and none of them has been idle long enough to expire
/// (<see cref="StoreOptions.DeliveryMarkMaxIdle"/>). Nothing of the batch was stored; known sources are not affected.
/// </summary>
public sealed class DeliverySourceLimitException(string source, int limit)
    : Exception($"the store keeps delivery marks for at most {limit} sources and none has been idle long enough to expire; new source '{source}' refused")
{
    public string DeliverySource { get; } = source;
    public int Limit { get; } = limit;
}
