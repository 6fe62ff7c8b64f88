using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Store.Client;

/// <summary>
/// Fills payloads' <c>body_decoded</c> where ingest left it out (<see cref="DecodedBodyDerivation"/>): rows with
/// <c>body_decoded_from</c> set get <c>body</c> decoded again with those codings.
/// </summary>
internal static class DecodedBodyReader
{
    /// <summary>The payloads columns needed to fill body_decoded.</summary>
    public static readonly string[] SourceColumns = ["body", "body_decoded_from", "body_decoded_len"];

    /// <summary>
    /// <paramref name="batch"/> with body_decoded filled; rows recording their decoded length (body_decoded_len) decode
    /// exactly that much, others at most <paramref name="maxUnrecorded"/> bytes (<see cref="DecodedBodyDerivation.Decode"/>).
    /// </summary>
    public static RecordBatch Fill(RecordBatch batch, long? maxUnrecorded = null)
    {
        int decodedIndex = batch.Schema.GetFieldIndex("body_decoded");
        int fromIndex = batch.Schema.GetFieldIndex("body_decoded_from");
        int bodyIndex = batch.Schema.GetFieldIndex("body");
        if (decodedIndex < 0 || fromIndex < 0 || bodyIndex < 0) return batch;
        var from = (StringArray)batch.Column(fromIndex);
        if (from.NullCount == batch.Length) return batch;
        int lengthIndex = batch.Schema.GetFieldIndex("body_decoded_len");
        var length = lengthIndex < 0 ? null : (Int64Array)batch.Column(lengthIndex);
        long unrecordedCap = maxUnrecorded ?? DecodedBodyDerivation.MaxDecodedBytes;
        var body = (BinaryArray)batch.Column(bodyIndex);
        var stored = (BinaryArray)batch.Column(decodedIndex);
        var builder = new BinaryArray.Builder();
        for (int i = 0; i < batch.Length; i++)
        {
            if (!from.IsNull(i) && !body.IsNull(i) && DecodedBodyDerivation.Decode(body.GetBytes(i).ToArray(), from.GetString(i), length?.GetValue(i), unrecordedCap) is { } decoded)
                builder.Append(decoded.AsSpan());
            else if (stored.IsNull(i)) builder.AppendNull();
            else builder.Append(stored.GetBytes(i));
        }
        var arrays = new IArrowArray[batch.ColumnCount];
        for (int c = 0; c < arrays.Length; c++) arrays[c] = batch.Column(c);
        arrays[decodedIndex] = builder.Build();
        return new RecordBatch(batch.Schema, arrays, batch.Length);
    }
}
