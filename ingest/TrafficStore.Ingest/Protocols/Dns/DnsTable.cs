using System.Globalization;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Protocols.Dns;

/// <summary>
/// The dns table: the columns of the tshark oracle's dns section first (same names, order and
/// meanings), then TrafficStore's own. Rows are ordered by query frame (lone responses by their frame).
/// </summary>
public static class DnsTable
{
    public static readonly TableDefinition<DnsTransaction> Definition = new("dns", 1, new[]
    {
        Column<DnsTransaction>.Int64("query_frame", x => x.QueryFrame, "frame of the query"),
        Column<DnsTransaction>.Timestamp("query_ts", x => x.QueryTimestampNs, "time of query_frame"),
        Column<DnsTransaction>.String("transport", x => x.Transport, "udp or tcp"),
        Column<DnsTransaction>.String("client_ip", x => x.ClientIp, "query sender (lone response: its receiver)"),
        Column<DnsTransaction>.Int64("client_port", x => x.ClientPort, "client port"),
        Column<DnsTransaction>.String("server_ip", x => x.ServerIp, "server address"),
        Column<DnsTransaction>.Int64("server_port", x => x.ServerPort, "server port"),
        Column<DnsTransaction>.Int64("id", x => x.Id, "message id, decimal"),
        Column<DnsTransaction>.String("qname", x => x.QueryName, "first question name (<Root> for the root)"),
        Column<DnsTransaction>.Int64("qtype", x => x.QueryType, "first question type, numeric"),
        Column<DnsTransaction>.String("qtype_name", x => x.QueryTypeName, "qtype as tshark names it (A, AAAA, * ...)"),
        Column<DnsTransaction>.Int64("response_frame", x => x.ResponseFrame, "frame of the response"),
        Column<DnsTransaction>.Timestamp("response_ts", x => x.ResponseTimestampNs, "time of response_frame"),
        Column<DnsTransaction>.Int64("rcode", x => x.Rcode, "header RCODE (4 bits)"),
        Column<DnsTransaction>.String("rcode_name", x => x.RcodeName, "NOERROR, NXDOMAIN ... (number when unnamed)"),
        Column<DnsTransaction>.Int64("answers", x => x.AnswerCount, "ANCOUNT of the response"),
        Column<DnsTransaction>.Duration("dns_time", x => x.ResponseTimeNs, "response_ts - query_ts"),
        Column<DnsTransaction>.String("a", x => Join(x.Answers, DnsRdataFormatter.TypeA), "A answers, |-joined in order"),
        Column<DnsTransaction>.String("aaaa", x => Join(x.Answers, DnsRdataFormatter.TypeAaaa), "AAAA answers, |-joined in order"),
        Column<DnsTransaction>.String("cname", x => Join(x.Answers, DnsRdataFormatter.TypeCname), "CNAME answers, |-joined in order"),
        // ---- TrafficStore columns
        Column<DnsTransaction>.Int64("stream", x => x.ConnectionId, "connection id of the flow (tcp.stream for TCP)"),
        Column<DnsTransaction>.String("variant", x => x.Variant, "dns, mdns (port 5353) or llmnr (port 5355)"),
        Column<DnsTransaction>.Int64("qclass", x => x.QueryClass, "first question class"),
        Column<DnsTransaction>.Int64("opcode", x => x.Opcode, "header opcode"),
        Column<DnsTransaction>.Int64("rcode_ext", x => x.ExtendedRcode, "12-bit RCODE with the EDNS extended bits"),
        Column<DnsTransaction>.Int64("authority", x => x.AuthorityCount, "NSCOUNT of the response"),
        Column<DnsTransaction>.Int64("additional", x => x.AdditionalCount, "ARCOUNT of the response"),
        Column<DnsTransaction>.String("ttls", x => x.Answers.Count == 0 ? null : string.Join('|', x.Answers.Select(a => a.Ttl.ToString(CultureInfo.InvariantCulture))), "answer TTLs in seconds, |-joined in order"),
        Column<DnsTransaction>.String("answer_records", x => Records(x.Answers), "answers as 'name TYPE ttl data', |-joined"),
        Column<DnsTransaction>.String("authority_records", x => Records(x.AuthorityRecords), "authority records, same form"),
        Column<DnsTransaction>.String("additional_records", x => Records(x.AdditionalRecords), "additional records except OPT, same form"),
        Column<DnsTransaction>.Boolean("rd", x => x.RecursionDesired, "recursion desired (query)"),
        Column<DnsTransaction>.Boolean("aa", x => x.Authoritative, "authoritative answer"),
        Column<DnsTransaction>.Boolean("tc", x => x.TruncatedFlag, "response truncated (TC)"),
        Column<DnsTransaction>.Boolean("ra", x => x.RecursionAvailable, "recursion available"),
        Column<DnsTransaction>.Boolean("ad", x => x.AuthenticData, "authentic data (DNSSEC)"),
        Column<DnsTransaction>.Int64("edns_udp_size", x => x.EdnsUdpSize, "EDNS(0) UDP payload size (query's, else response's)"),
        Column<DnsTransaction>.Boolean("edns_do", x => x.EdnsDnssecOk, "EDNS(0) DO bit"),
        Column<DnsTransaction>.Boolean("query_retransmission", x => x.QueryRetransmission, "query repeated an unanswered query's id within the retransmission window"),
        Column<DnsTransaction>.Boolean("response_retransmission", x => x.ResponseRetransmission, "response repeated an answered transaction"),
        Column<DnsTransaction>.String("anomalies", x => x.Anomalies.Count == 0 ? null : string.Join('|', x.Anomalies), "parser anomalies, |-joined"),
    });

    /// <summary>The table's row order: query frame, or response frame for a lone response (rows reach sinks as they complete).</summary>
    public static IEnumerable<DnsTransaction> InTableOrder(IEnumerable<DnsTransaction> rows) =>
        rows.OrderBy(r => r.OrderFrame).ThenBy(r => r.ResponseFrame ?? long.MaxValue);

    private static string? Join(IReadOnlyList<DnsRecord> records, ushort type)
    {
        string? result = null;
        foreach (var r in records)
        {
            if (r.Type != type) continue;
            result = result is null ? r.Data : result + "|" + r.Data;
        }
        return result;
    }

    private static string? Records(IReadOnlyList<DnsRecord> records)
    {
        var parts = records.Where(r => r.Type != DnsRdataFormatter.TypeOpt)
            .Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Name} {r.TypeName} {r.Ttl} {r.Data}")).ToList();
        return parts.Count == 0 ? null : string.Join('|', parts);
    }
}
