using System.Threading.Channels;
using Apache.Arrow;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Server.Flight;

/// <summary>
/// DoGet's write loop: sends the batches the store produces (sliced under <see cref="TrafficFlightServer.MaxMessageBytes"/>)
/// and decides when the response is flushed. Every flush is a round through Kestrel's HTTP/2 frame writer, a socket
/// send and a wake-up of the client; flushing the schema and each batch on its own cost a small query more CPU
/// than its rows did. So the schema goes out with the first batch, batches that are ready back to back share a
/// flush until <see cref="FlushBytes"/> are pending, and what is pending when the engine has nothing ready is
/// flushed before waiting for it (a slow query still delivers each batch as soon as it is made). What is pending
/// at the end goes out with the call's trailers.
/// </summary>
internal static class CoalescingBatchWriter
{
    /// <summary>Pending bytes of Arrow buffers that make a flush; export batches are larger, so exports flush every message.</summary>
    public const int FlushBytes = 256 << 10;

    /// <summary>Writes every batch of <paramref name="batches"/> (the schema was started already) and returns the rows written.</summary>
    public static async Task<long> WriteAllAsync(ChannelReader<RecordBatch> batches, IRecordBatchSink sink, CancellationToken ct)
    {
        long rows = 0, pending = 0;
        bool wroteBatch = false;
        while (true)
        {
            if (!batches.TryRead(out var batch))
            {
                // The schema alone is not flushed: it waits for the first batch (or the end of an empty result).
                // At the end of the result, what is pending goes out with the trailers.
                if (pending > 0 && wroteBatch && !batches.Completion.IsCompleted)
                {
                    await sink.FlushAsync();
                    pending = 0;
                }
                if (!await batches.WaitToReadAsync(ct)) return rows;
                continue;
            }
            foreach (var slice in TrafficFlightServer.Slices(batch))
            {
                pending += ArrowBatchSize.Bytes(slice);
                bool flush = pending >= FlushBytes;
                await sink.WriteAsync(slice, flush);
                if (flush) pending = 0;
            }
            wroteBatch = true;
            rows += batch.Length;
        }
    }
}
