namespace TrafficStore.Ingest.Tests.Oracle;

public class OracleFileTests
{
    [Fact]
    public void ReadsAllFourSectionsOfAnOracleFile()
    {
        var sections = OracleFile.Read(SharedData.Oracle("http11-get-simple.pcap"));
        Assert.Equal(new[] { "dns", "http", "tcp", "tls" }, sections.Keys.Order());
        var tcp = Assert.Single(sections["tcp"].Rows);
        Assert.Equal("141.142.228.5", tcp["client_ip"]);
        var http = Assert.Single(sections["http"].Rows);
        Assert.Equal("text/plain; charset=UTF-8", http["content_type"]);
    }

    [Fact]
    public void EveryCaptureHasAnOracleFile()
    {
        var names = SharedData.CaptureNames().ToList();
        Assert.Equal(40, names.Count);
        Assert.All(names, n => Assert.True(File.Exists(SharedData.Oracle(n)), n));
    }
}
