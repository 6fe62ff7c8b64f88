namespace TrafficStore.Engine.Wal;

/// <summary>One replayed WAL record: its sequence number and payload.</summary>
internal readonly record struct WalRecord(long Seq, byte[] Payload);

/// <summary>What replaying the WAL found.</summary>
internal sealed record WalReplayResult(IReadOnlyList<WalRecord> Records, long LastSeq, long TruncatedBytes, IReadOnlyList<string> Problems);
