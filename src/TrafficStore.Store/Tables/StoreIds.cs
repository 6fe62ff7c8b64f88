namespace TrafficStore.Store.Tables;

/// <summary>
/// Store-wide ids. Every ingest run gets a <c>capture_id</c> (1, 2, 3 ... in the order runs start,
/// recorded in capture_stats before any other row of the run). The pipeline's ids are unique only
/// within one run (a TCP stream index, 2^32 + a UDP stream index, an exchange counter), so the store
/// combines them: <c>id = capture_id * 2^40 + per-capture id</c>. A per-capture id must be below
/// 2^40 (TCP streams and UDP flows are below 2^33); capture ids below 2^23.
/// </summary>
public static class StoreIds
{
    public const int LocalBits = 40;
    public const long MaxLocalId = (1L << LocalBits) - 1;
    public const long MaxCaptureId = (1L << (63 - LocalBits)) - 1;

    public static long Global(long captureId, long localId)
    {
        if ((ulong)captureId > MaxCaptureId) throw new ArgumentOutOfRangeException(nameof(captureId));
        if ((ulong)localId > MaxLocalId) throw new ArgumentOutOfRangeException(nameof(localId));
        return (captureId << LocalBits) | localId;
    }

    public static long CaptureOf(long globalId) => globalId >> LocalBits;

    public static long LocalOf(long globalId) => globalId & MaxLocalId;
}
