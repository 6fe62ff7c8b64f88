using System.Diagnostics;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>
/// mDNS is outside the oracle's dns section, so its rows are checked against tshark directly:
/// every frame tshark dissects as mdns appears in exactly our variant=mdns rows.
/// </summary>
public class MdnsCorpusTests
{
    private static SortedSet<long> TsharkFrames(string capture, string filter)
    {
        var psi = new ProcessStartInfo("tshark", $"-r \"{SharedData.Pcap(capture)}\" -Y \"{filter}\" -T fields -e frame.number")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new SortedSet<long>(output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse));
    }

    [Theory]
    [InlineData("grpc-unary-h2c.pcapng")]
    [InlineData("ipv6-http.pcap")]
    [InlineData("sll-mixed-http-dns.pcap")]
    public void MdnsRowsCoverExactlyTheFramesTsharkCallsMdns(string capture)
    {
        var rows = DnsTlsCorpus.Ingest(capture).Dns;
        var ours = new SortedSet<long>(rows.Where(r => r.Variant == "mdns")
            .SelectMany(r => new[] { r.QueryFrame, r.ResponseFrame }).Where(f => f is not null).Select(f => f!.Value));
        var expected = TsharkFrames(capture, "mdns");
        Assert.NotEmpty(expected);
        Assert.Equal(expected, ours);
        Assert.All(rows.Where(r => r.Variant == "mdns"), r => Assert.Equal(5353, r.ServerPort));
    }
}
