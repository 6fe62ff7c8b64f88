using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tables;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>Runs a corpus capture through the whole pipeline with the DNS and TLS protocols.</summary>
public static class DnsTlsCorpus
{
    public sealed record Result(IReadOnlyList<DnsTransaction> Dns, IReadOnlyList<TlsHandshake> Tls);

    private static readonly Dictionary<string, Result> Cache = new();

    public static Result Ingest(string capture)
    {
        lock (Cache)
        {
            if (Cache.TryGetValue(capture, out var cached)) return cached;
            var dns = new ListSink<DnsTransaction>();
            var tls = new ListSink<TlsHandshake>();
            var dnsProtocol = new DnsProtocol(dns);
            var tlsProtocol = new TlsProtocol(tls);
            using var source = CaptureFile.Open(SharedData.Pcap(capture));
            new IngestPipeline(new ListSink<ConnectionRecord>(), new IStreamProtocol[] { tlsProtocol, dnsProtocol }, new IDatagramProtocol[] { dnsProtocol }).Run(source);
            var result = new Result(
                DnsTable.InTableOrder(dns.Rows).ToList(),
                TlsTable.InTableOrder(tls.Rows).ToList());
            Cache[capture] = result;
            return result;
        }
    }
}

/// <summary>Field-by-field comparison of our rows with an oracle section, matched by a key column.</summary>
public sealed class SectionComparison
{
    private readonly string _capture;
    private readonly IReadOnlyDictionary<(string Capture, string Section, string Key, string Column), string> _deliberate;

    /// <param name="deliberate">Fields where we differ on purpose, with the value we must produce instead.</param>
    public SectionComparison(string capture, IReadOnlyDictionary<(string Capture, string Section, string Key, string Column), string> deliberate)
    {
        _capture = capture;
        _deliberate = deliberate;
    }

    /// <summary>Fields that differ from the oracle as pinned (and equal the pinned value).</summary>
    public int DeliberateFields { get; private set; }

    public int OracleRows { get; private set; }
    public int MatchedRows { get; private set; }
    public int ExtraRows { get; private set; }
    public int Fields { get; private set; }
    public int EqualFields { get; private set; }
    public List<string> Differences { get; } = new();

    public void Compare<T>(OracleSection oracle, TableDefinition<T> table, IEnumerable<T> rows, Func<IReadOnlyDictionary<string, string>, string> key)
    {
        var ours = rows.Select(r => (IReadOnlyDictionary<string, string>)TableText.Row(table, r)).GroupBy(key).ToDictionary(g => g.Key, g => g.First());
        var oracleKeys = new HashSet<string>();
        string capture = _capture;
        foreach (var expected in oracle.Rows)
        {
            OracleRows++;
            string k = key(expected);
            oracleKeys.Add(k);
            if (!ours.TryGetValue(k, out var actual))
            {
                Differences.Add($"{capture} {oracle.Name} key {k}: missing row");
                Fields += oracle.Header.Count;
                continue;
            }
            bool all = true;
            foreach (var column in oracle.Header)
            {
                Fields++;
                string a = actual.TryGetValue(column, out var v) ? v : "<no column>";
                if (_deliberate.TryGetValue((capture, oracle.Name, k, column), out var pinned))
                {
                    if (a == pinned) DeliberateFields++;
                    else
                    {
                        all = false;
                        Differences.Add($"{capture} {oracle.Name} key {k} {column}: pinned '{pinned}' ours '{a}'");
                    }
                }
                else if (a == expected[column]) EqualFields++;
                else
                {
                    all = false;
                    Differences.Add($"{capture} {oracle.Name} key {k} {column}: oracle '{expected[column]}' ours '{a}'");
                }
            }
            if (all) MatchedRows++;
        }
        foreach (var k in ours.Keys.Where(k => !oracleKeys.Contains(k)))
        {
            ExtraRows++;
            Differences.Add($"{capture} {oracle.Name} key {k}: extra row");
        }
    }
}
