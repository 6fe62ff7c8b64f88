using System.Security.Cryptography;
using System.Text.Json;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Synthetic;

namespace TrafficStore.Ingest.Tests.Synthetic;

public class TrafficGeneratorTests
{
    private static readonly byte[] Certificate = TrafficGenerator.CreateServerCertificate(new DateTimeOffset(2026, 1, 15, 0, 0, 0, TimeSpan.Zero));

    private static TrafficGeneratorOptions Small(int seed) => new()
    {
        Seed = seed,
        Duration = TimeSpan.FromSeconds(30),
        ConnectionCount = 25,
        Mix = new TrafficMix(Downloads: 2),
        CertificateDer = Certificate,
    };

    private static byte[] Generate(TrafficGeneratorOptions options)
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, leaveOpen: true)) new TrafficGenerator(options).WriteTo(writer);
        return stream.ToArray();
    }

    [Fact]
    public void SameSeedGivesAByteIdenticalCapture()
    {
        Assert.Equal(SHA256.HashData(Generate(Small(11))), SHA256.HashData(Generate(Small(11))));
    }

    [Fact]
    public void DifferentSeedsGiveDifferentCaptures()
    {
        Assert.NotEqual(SHA256.HashData(Generate(Small(11))), SHA256.HashData(Generate(Small(12))));
    }

    [Fact]
    public void FreshCertificatesChangeOnlyCertificateBytes()
    {
        // Without a fixed certificate each generator makes its own key, but the certificate's
        // length is fixed, so frame count, sizes and timestamps stay the same.
        var options = Small(11) with { CertificateDer = null };
        var a = Frames(new TrafficGenerator(options));
        var b = Frames(new TrafficGenerator(options with { CertificateDer = TrafficGenerator.CreateServerCertificate(options.StartTime) }));
        Assert.Equal(a, b);
    }

    private static List<(long, int)> Frames(TrafficGenerator generator)
    {
        var frames = new List<(long, int)>();
        while (generator.TryReadNext(out long ts, out ReadOnlySpan<byte> frame)) frames.Add((ts, frame.Length));
        return frames;
    }

    [Fact]
    public void FramesComeInTimeOrderInsideTheCaptureWindow()
    {
        var options = Small(3);
        var generator = new TrafficGenerator(options);
        long start = options.StartTime.ToUnixTimeMilliseconds() * 1_000_000;
        long previous = start;
        long count = 0;
        while (generator.TryReadNext(out long ts, out ReadOnlySpan<byte> frame))
        {
            Assert.True(ts >= previous, $"frame {count + 1} goes back in time");
            Assert.InRange(frame.Length, 54, 1514);
            previous = ts;
            count++;
        }
        Assert.Equal(generator.Summary.Frames, count);
        // Conversations started before the end may finish a little after it (a scraped response, a close).
        Assert.InRange(previous, start, start + options.Duration.Ticks * 100 + 10_000_000_000);
    }

    [Fact]
    public void CaptureSourceHandsOutTheSameFrames()
    {
        var options = Small(5);
        byte[] file = Generate(options);
        using var source = new SyntheticCaptureSource(options);
        var frame = new CaptureFrame();
        int offset = PcapWriter.FileHeaderLength;
        long number = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            number++;
            Assert.Equal(number, frame.Number);
            Assert.Equal(LinkType.Ethernet, frame.LinkType);
            int length = BitConverter.ToInt32(file, offset + 8);
            Assert.Equal(length, frame.Data.Length);
            Assert.True(file.AsSpan(offset + 16, length).SequenceEqual(frame.Data));
            offset += 16 + length;
        }
        Assert.Equal(file.Length, offset);
    }

    [Fact]
    public void TargetBytesControlsTheSize()
    {
        var options = new TrafficGeneratorOptions { Seed = 2, TargetBytes = 3_000_000, Duration = TimeSpan.FromMinutes(2), CertificateDer = Certificate };
        using var writer = new PcapWriter(Stream.Null, LinkType.Ethernet);
        GenerationSummary summary = new TrafficGenerator(options).WriteTo(writer);
        Assert.InRange(summary.FileBytes, 2_000_000, 4_500_000);
    }

    [Fact]
    public void DemoIsAFewMegabytesOverTenMinutes()
    {
        using var writer = new PcapWriter(Stream.Null, LinkType.Ethernet);
        var generator = new TrafficGenerator(TrafficGeneratorOptions.Demo with { CertificateDer = Certificate });
        GenerationSummary summary = generator.WriteTo(writer);
        Assert.InRange(summary.FileBytes, 2_500_000, 6_000_000);
        Assert.InRange(summary.LastTimestampNs - summary.FirstTimestampNs, 590_000_000_000, 610_000_000_000);
        Assert.True(summary.TcpConnections >= 50, $"{summary.TcpConnections} TCP connections");
        Assert.True(summary.DnsQueries >= 30, $"{summary.DnsQueries} DNS queries");
    }

    [Fact]
    public void SnapshotIsAKubectlListThatMatchesTheCapture()
    {
        var generator = new TrafficGenerator(Small(9));
        using var stream = new MemoryStream();
        generator.WriteKubernetesSnapshot(stream);
        using var json = JsonDocument.Parse(stream.ToArray());
        JsonElement root = json.RootElement;
        Assert.Equal("v1", root.GetProperty("apiVersion").GetString());
        Assert.Equal("List", root.GetProperty("kind").GetString());
        var items = root.GetProperty("items").EnumerateArray().ToList();
        var byKind = items.GroupBy(i => i.GetProperty("kind").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(generator.Topology.Pods.Count, byKind["Pod"].Count);
        Assert.Equal(generator.Topology.Services.Count, byKind["Service"].Count);
        Assert.Equal(2 * generator.Topology.Services.Count, byKind["EndpointSlice"].Count);
        Assert.Equal(3, byKind["Node"].Count);

        var podIps = new Dictionary<string, string>();
        foreach (JsonElement pod in byKind["Pod"])
        {
            JsonElement meta = pod.GetProperty("metadata");
            string app = meta.GetProperty("labels").GetProperty("app").GetString()!;
            string hash = meta.GetProperty("labels").GetProperty("pod-template-hash").GetString()!;
            JsonElement owner = meta.GetProperty("ownerReferences")[0];
            Assert.Equal("ReplicaSet", owner.GetProperty("kind").GetString());
            Assert.Equal($"{app}-{hash}", owner.GetProperty("name").GetString());
            Assert.StartsWith(owner.GetProperty("name").GetString() + "-", meta.GetProperty("name").GetString());
            string ip = pod.GetProperty("status").GetProperty("podIP").GetString()!;
            Assert.StartsWith("10.244.", ip);
            podIps[meta.GetProperty("name").GetString()!] = ip;
            string node = pod.GetProperty("spec").GetProperty("nodeName").GetString()!;
            JsonElement nodeItem = byKind["Node"].Single(n => n.GetProperty("metadata").GetProperty("name").GetString() == node);
            string hostIp = nodeItem.GetProperty("status").GetProperty("addresses")[0].GetProperty("address").GetString()!;
            Assert.Equal(hostIp, pod.GetProperty("status").GetProperty("hostIP").GetString());
            // A node's pods come from its podCIDR.
            string cidr = nodeItem.GetProperty("spec").GetProperty("podCIDR").GetString()!;
            Assert.StartsWith(cidr[..cidr.LastIndexOf('.')] + ".", ip);
        }
        Assert.All(byKind["Node"], n => Assert.StartsWith("eu-west-1",
            n.GetProperty("metadata").GetProperty("labels").GetProperty("topology.kubernetes.io/zone").GetString()));

        // Every IPv4 EndpointSlice lists exactly the pods its Service selects.
        foreach (JsonElement service in byKind["Service"])
        {
            string name = service.GetProperty("metadata").GetProperty("name").GetString()!;
            string app = service.GetProperty("spec").GetProperty("selector").GetProperty("app").GetString()!;
            Assert.StartsWith("10.96.", service.GetProperty("spec").GetProperty("clusterIP").GetString());
            var selected = byKind["Pod"].Where(p => p.GetProperty("metadata").GetProperty("labels").GetProperty("app").GetString() == app)
                .Select(p => p.GetProperty("status").GetProperty("podIP").GetString()).Order().ToList();
            JsonElement slice = byKind["EndpointSlice"].Single(s =>
                s.GetProperty("metadata").GetProperty("labels").GetProperty("kubernetes.io/service-name").GetString() == name &&
                s.GetProperty("addressType").GetString() == "IPv4");
            var endpoints = slice.GetProperty("endpoints").EnumerateArray().Select(e => e.GetProperty("addresses")[0].GetString()).Order().ToList();
            Assert.Equal(selected, endpoints);
        }
        Assert.Contains(byKind["Service"], s => s.GetProperty("spec").GetProperty("clusterIP").GetString() == "10.96.0.10");
    }

    [Fact]
    public void SnapshotIsTheSameForTheSameSeed()
    {
        static string Snapshot(int seed)
        {
            using var stream = new MemoryStream();
            new TrafficGenerator(Small(seed)).WriteKubernetesSnapshot(stream);
            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }
        Assert.Equal(Snapshot(4), Snapshot(4));
        Assert.NotEqual(Snapshot(4), Snapshot(5));
    }

    [Fact]
    public void RejectsInvalidOptions()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrafficGenerator(new TrafficGeneratorOptions { Duration = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrafficGenerator(new TrafficGeneratorOptions { TargetBytes = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrafficGenerator(new TrafficGeneratorOptions { Mix = new TrafficMix(0, 0, 0, 0, 0) }));
    }
}
