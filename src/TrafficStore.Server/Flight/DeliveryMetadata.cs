using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using TrafficStore.Engine;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The identity a node agent gives each DoPut message, in the FlightData <c>app_metadata</c> (docs/server.md
/// "Exactly-once DoPut"), UTF-8 JSON:
/// <code>
/// {"agent_id": "3f2a…",   stable id of the agent (its spool directory's), 1-128 of [A-Za-z0-9._:-]
///  "batch_seq": 42,       the spooled batch's number, increasing in the order the agent ships
///  "first_row": 0}        where this message's rows start in that batch (a batch may go as row slices); default 0
/// </code>
/// A message without app_metadata, or whose app_metadata is not a JSON object naming <c>agent_id</c> (a stock
/// client's own metadata), is stored as it comes, every time it comes.
/// </summary>
public static class DeliveryMetadata
{
    public const string AgentId = "agent_id";
    public const string BatchSeq = "batch_seq";
    public const string FirstRow = "first_row";

    /// <summary>
    /// Trailer of a DoPut refused with <c>ResourceExhausted</c> for a reason other than the message size, so an agent
    /// does not take it for its messages being too large (which it answers by cutting them smaller).
    /// </summary>
    public const string RefusalTrailer = "trafficstore-refusal";
    /// <summary><see cref="RefusalTrailer"/>: a new agent past the store's delivery-source limit (<c>StoreOptions.MaxDeliverySources</c>).</summary>
    public const string SourceLimitRefusal = "delivery-source-limit";

    /// <summary>The app_metadata of a message of <paramref name="agentId"/>'s batch <paramref name="batchSeq"/> starting at row <paramref name="firstRow"/>.</summary>
    public static ByteString Encode(string agentId, long batchSeq, long firstRow) =>
        ByteString.CopyFromUtf8(new JsonObject { [AgentId] = agentId, [BatchSeq] = batchSeq, [FirstRow] = firstRow }.ToJsonString());

    /// <summary>
    /// The delivery a message names; null when it names none. False (with the reason) when it names an agent but
    /// the fields are invalid: the message must be refused, not stored without its identity.
    /// </summary>
    public static bool TryParse(IReadOnlyList<ByteString> metadata, out Delivery? delivery, out string? error)
    {
        delivery = null;
        error = null;
        if (metadata.Count == 0) return true;
        JsonObject? json;
        try { json = JsonNode.Parse(metadata[^1].Span) as JsonObject; }
        catch (JsonException) { return true; }                  // not ours
        if (json is null || !json.TryGetPropertyValue(AgentId, out var idNode)) return true;
        if (idNode is not JsonValue idValue || !idValue.TryGetValue(out string? id) || !ValidAgentId(id))
        {
            error = $"app_metadata '{AgentId}' must be a string of 1-{Delivery.MaxSourceLength} characters [A-Za-z0-9._:-]";
            return false;
        }
        if (!TryGetCount(json, BatchSeq, required: true, out long batch))
        {
            error = $"app_metadata '{BatchSeq}' must be a non-negative integer";
            return false;
        }
        if (!TryGetCount(json, FirstRow, required: false, out long first))
        {
            error = $"app_metadata '{FirstRow}' must be a non-negative integer";
            return false;
        }
        delivery = new Delivery(id, batch, first);
        return true;
    }

    private static bool TryGetCount(JsonObject json, string name, bool required, out long value)
    {
        value = 0;
        if (!json.TryGetPropertyValue(name, out var node)) return !required;
        return node is JsonValue v && v.TryGetValue(out value) && value >= 0;
    }

    private static bool ValidAgentId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > Delivery.MaxSourceLength) return false;
        foreach (char c in id)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-')) return false;
        return true;
    }
}
