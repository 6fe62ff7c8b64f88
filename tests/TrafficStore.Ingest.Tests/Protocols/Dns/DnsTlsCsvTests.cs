using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>The CSV writer's output of our tables, cut to the oracle's columns, is the oracle's section, row for row and in order.</summary>
public class DnsTlsCsvTests
{
    private static List<List<string>> OracleRecords(string capture, string section)
    {
        var s = OracleFile.Section(capture, section);
        return s.Rows.Select(r => s.Header.Select(h => r[h]).ToList()).ToList();
    }

    private static List<List<string>> OurRecords<T>(TableDefinition<T> table, IEnumerable<T> rows, int columns)
    {
        var text = new StringWriter();
        TableWriters.WriteCsv(text, table, rows);
        return Csv.ReadRecords(text.ToString()).Skip(1).Where(r => r.Count > 1).Select(r => r.Take(columns).ToList()).ToList();
    }

    [Theory]
    [InlineData("dns-mixed-types-nxdomain.pcap")]
    [InlineData("dns-tcp.pcap")]
    [InlineData("ipv6-frag-dns.pcap")]
    [InlineData("pcapng-many-interfaces.pcapng")]
    public void DnsCsvIsTheOracleSection(string capture)
    {
        var expected = OracleRecords(capture, "dns");
        var rows = DnsTlsCorpus.Ingest(capture).Dns.Where(r => r.Variant == "dns");
        Assert.Equal(expected, OurRecords(DnsTable.Definition, rows, OracleFile.Section(capture, "dns").Header.Count));
    }

    [Theory]
    [InlineData("tls-mixed-tls10-tls12-tls13.pcap")]
    [InlineData("tls12-handshake-failure-alert.pcap")]
    [InlineData("mixed-large-many-protocols.pcap")]
    public void TlsCsvIsTheOracleSection(string capture)
    {
        var expected = OracleRecords(capture, "tls");
        var rows = DnsTlsCorpus.Ingest(capture).Tls;
        Assert.Equal(expected, OurRecords(TlsTable.Definition, rows, OracleFile.Section(capture, "tls").Header.Count));
    }
}
