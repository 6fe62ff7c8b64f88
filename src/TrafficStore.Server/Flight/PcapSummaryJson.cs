using System.Text;
using System.Text.Json.Nodes;
using TrafficStore.Store.Client;

namespace TrafficStore.Server.Flight;

/// <summary>
/// The summary of an <c>export.pcap</c> call as the server sends it in the <see cref="TrafficFlightServer.PcapSummaryTrailer"/>
/// trailer: <c>{"frames":N,"bytes":N,"format":"pcap"|"pcapng","link_type":N,"link_types":[...],"warnings":[...]}</c> (UTF-8).
/// </summary>
public static class PcapSummaryJson
{
    public static byte[] ToBytes(PcapExportSummary s) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["frames"] = s.Frames,
        ["bytes"] = s.Bytes,
        ["format"] = s.Format == PcapExportFormat.PcapNg ? "pcapng" : "pcap",
        ["link_type"] = s.LinkType,
        ["link_types"] = new JsonArray([.. s.LinkTypes.Select(t => (JsonNode)t)]),
        ["warnings"] = new JsonArray([.. s.Warnings.Select(w => (JsonNode)w)]),
    }.ToJsonString());

    /// <summary>Reads a summary; null when the bytes are not one (an older server, a cut call).</summary>
    public static PcapExportSummary? FromBytes(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (JsonNode.Parse(Encoding.UTF8.GetString(bytes)) is not JsonObject o) return null;
            return new PcapExportSummary((long)o["frames"]!, (long)o["bytes"]!, (int)o["link_type"]!,
                o["warnings"]!.AsArray().Select(w => (string)w!).ToList())
            {
                Format = (string?)o["format"] == "pcapng" ? PcapExportFormat.PcapNg : PcapExportFormat.Pcap,
                LinkTypes = o["link_types"]!.AsArray().Select(t => (int)t!).ToList(),
            };
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException or NullReferenceException)
        {
            return null;
        }
    }
}
