using System.Buffers.Binary;
using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using TrafficStore.Ingest.Tests.Support;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// Packets v4: a frame split into a header template (frame_header) and the rest (data) reads back byte for
/// byte — every capture of the corpus, and hand-made odd frames (IP options, IPv6 extension headers, VLAN
/// tags, cooked and raw link types, fragments, bad checksums, padding, lying lengths) cut at every length.
/// </summary>
public class FrameHeadersTests
{
    // ------------------------------------------------------------------ the corpus, through the store

    [Theory]
    [MemberData(nameof(Captures), MemberType = typeof(StoreTestSupport))]
    public async Task EveryFrameOfEveryCaptureReadsBackAsCaptured(string capture)
    {
        var path = Pcap(capture);
        var original = PcapExportTests.ReadFrames(path);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(path);
        await db.Engine.FlushAsync();
        await using var client = new LocalTrafficClient(db);

        var result = await client.QueryAsync("packets");
        var seen = new Dictionary<long, byte[]>();
        await foreach (var b in result.Batches)
        {
            var frame = (Int64Array)b.Column("frame");
            var data = (BinaryArray)b.Column("data");
            // frame_header is storage only: query results carry it empty.
            Assert.Equal(b.Length, b.Column("frame_header").NullCount);
            for (int i = 0; i < b.Length; i++) seen[frame.GetValue(i)!.Value] = data.GetBytes(i).ToArray();
        }
        Assert.Empty(result.Warnings);
        Assert.Equal(original.Count, seen.Count);
        foreach (var f in original) Assert.True(f.Data.AsSpan().SequenceEqual(seen[f.Number]), $"{capture} frame {f.Number}");
    }

    [Fact]
    public async Task FramesOfKnownLinkTypesAreStoredSplit()
    {
        // tshark counts the frames that have an IP layer; each of them must be stored with its headers apart.
        var path = Pcap("sll-mixed-http-dns.pcap");
        int ipFrames = Run("tshark", "-r", path, "-Y", "ip or ipv6", "-T", "fields", "-e", "frame.number")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.True(ipFrames > 0);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(path);
        await db.Engine.FlushAsync();
        int split = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets).Select("frame_header")))
            split += b.Length - b.Column(0).NullCount;
        Assert.Equal(ipFrames, split);
    }

    // ------------------------------------------------------------------ odd frames, cut at every length

    public static TheoryData<string> OddFrames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Frames().Keys) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(OddFrames))]
    public void OddFrameRoundTripsAtEveryCapturedLength(string name)
    {
        var (link, frame) = Frames()[name];
        for (int length = 0; length <= frame.Length; length++)
            AssertRoundTrip(link, frame[..length], $"{name} cut at {length}");
        // Ethernet padding / trailer after the IP datagram.
        AssertRoundTrip(link, [.. frame, 0, 0, 0, 0, 0, 0], $"{name} padded");
    }

    [Theory]
    [MemberData(nameof(OddFrames))]
    public void OddFrameRoundTripsUnderEveryLinkType(string name)
    {
        var frame = Frames()[name].Frame;
        foreach (var link in Enum.GetValues<LinkType>().Append((LinkType)147))
            AssertRoundTrip(link, frame, $"{name} as {link}");
    }

    [Fact]
    public void RandomlyDamagedFramesRoundTrip()
    {
        var random = new Random(20261126);
        var frames = Frames().Values.ToList();
        for (int trial = 0; trial < 5000; trial++)
        {
            var (link, original) = frames[random.Next(frames.Count)];
            var frame = original.ToArray();
            for (int k = random.Next(1, 4); k > 0; k--) frame[random.Next(frame.Length)] = (byte)random.Next(256);
            AssertRoundTrip(link, frame, $"trial {trial}");
        }
    }

    [Theory]
    [InlineData("ipv4 tcp options")]
    [InlineData("ipv4 options udp")]
    [InlineData("ipv6 extension headers udp")]
    [InlineData("vlan qinq ipv4 tcp")]
    [InlineData("sll ipv4 tcp")]
    [InlineData("sll2 ipv6 tcp")]
    public void HeadersOfOneFlowGiveOneTemplateWhateverThePayload(string name)
    {
        // Correct checksums and lengths (computed by the test's own RFC 1071 sum) read 0 in the template, so
        // frames that differ only in their payload share a template byte for byte.
        var (link, frame) = Frames()[name];
        var layout = FrameHeaders.Parse(link, frame);
        Assert.True(layout.IsSplit, name);
        var other = Reframe(link, frame, layout, payload: [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7))]);
        var template = Template(link, frame);
        Assert.Equal(template, Template(link, other));
        if (layout.IpVersion == 4)
        {
            Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(template.AsSpan(layout.Ip + 2)));  // total length
            Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(template.AsSpan(layout.Ip + 10))); // header checksum
        }
        else Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(template.AsSpan(layout.Ip + 4))); // payload length
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(template.AsSpan(layout.L4 + (layout.L4Protocol == 6 ? 16 : 6))));
    }

    [Fact]
    public void FramesWithoutAnIpLayerAreNotSplit()
    {
        Assert.False(FrameHeaders.Parse(LinkType.Ethernet, Frames()["arp"].Frame).IsSplit);
        Assert.False(FrameHeaders.Parse((LinkType)147, Frames()["ipv4 tcp options"].Frame).IsSplit);
        Assert.False(FrameHeaders.Parse(LinkType.Ethernet, Frames()["ipv4 tcp options"].Frame.AsSpan(0, 33)).IsSplit); // IPv4 header cut
    }

    [Fact]
    public void AddingAFrameAllocatesNothing()
    {
        var (_, frame) = Frames()["vlan qinq ipv4 tcp"];
        var builder = new PacketBatchBuilder { ExpectedDataBytes = 2000 * frame.Length };
        bool built = true;
        // Each round is one batch of 1000 frames; the first round may size things once, a later one allocates nothing.
        long allocated = Allocations.LeastOf(3, () =>
        {
            if (!built) Assert.Equal(1000, builder.BuildPackets().Length);   // the previous round's batch
            Add(builder, frame, 1); // the first frame of a batch sizes its buffers
            built = false;
            return builder;
        }, b => { for (int i = 2; i <= 1000; i++) Add(b, frame, i); });
        Assert.Equal(1000, builder.BuildPackets().Length);
        Assert.Equal(0, allocated);
    }

    private static void Add(PacketBatchBuilder builder, byte[] bytes, int number)
    {
        var frame = new CaptureFrame { Number = number, TimestampNs = number, LinkType = LinkType.Ethernet, OriginalLength = bytes.Length, Data = bytes };
        builder.Add(frame, 1, 7, "");
    }

    // ------------------------------------------------------------------ helpers

    /// <summary>Splits the frame as ingest does and restores it as reads do.</summary>
    private static void AssertRoundTrip(LinkType link, byte[] frame, string what)
    {
        var layout = FrameHeaders.Parse(link, frame);
        if (!layout.IsSplit) return; // stored whole in data
        var template = new byte[layout.HeaderLength];
        FrameHeaders.WriteTemplate(layout, frame, template);
        byte[] read = [.. template, .. frame.AsSpan(layout.HeaderLength)];
        Assert.True(FrameHeaders.Restore(link, read, layout.HeaderLength), what);
        Assert.True(frame.AsSpan().SequenceEqual(read), what);
    }

    private static byte[] Template(LinkType link, byte[] frame)
    {
        var layout = FrameHeaders.Parse(link, frame);
        var template = new byte[layout.HeaderLength];
        FrameHeaders.WriteTemplate(layout, frame, template);
        return template;
    }

    /// <summary>The same headers with another payload, lengths and checksums made correct again.</summary>
    private static byte[] Reframe(LinkType link, byte[] frame, FrameHeaders.Layout layout, byte[] payload)
    {
        byte[] bytes = [.. frame.AsSpan(0, layout.HeaderLength), .. payload];
        Fix(bytes, layout);
        return bytes;
    }

    private static readonly Dictionary<string, (LinkType Link, byte[] Frame)> FrameSet = BuildFrames();

    private static Dictionary<string, (LinkType Link, byte[] Frame)> Frames() => FrameSet;

    private static Dictionary<string, (LinkType Link, byte[] Frame)> BuildFrames()
    {
        byte[] mac = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        byte[] v4 = [10, 0, 0, 1, 10, 0, 0, 2];
        byte[] v6 = [0x20, 0x01, 0x0d, 0xb8, .. new byte[11], 1, 0x20, 0x01, 0x0d, 0xb8, .. new byte[11], 2];
        byte[] payload = "GET / HTTP/1.1\r\nHost: example\r\n\r\n"u8.ToArray();
        // TCP with MSS, SACK permitted, timestamps, window scale (data offset 10 words).
        byte[] tcp = [0x1f, 0x90, 0xc3, 0x50, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xa0, 0x18, 0x01, 0xf6, 0, 0, 0, 0,
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 1, 3, 3, 7];
        byte[] udp = [0x30, 0x39, 0, 53, 0, 0, 0, 0];
        byte[] Ipv4(byte protocol, byte[] options, ushort flagsFragment = 0x4000) =>
            [(byte)(0x40 | (5 + options.Length / 4)), 0, 0, 0, 0x1c, 0x46, (byte)(flagsFragment >> 8), (byte)flagsFragment, 64, protocol, 0, 0, .. v4, .. options];
        byte[] Ipv6(byte next) => [0x60, 0, 0, 0, 0, 0, next, 64, .. v6];
        byte[] Eth(ushort type) => [.. mac, (byte)(type >> 8), (byte)type];

        var frames = new Dictionary<string, (LinkType, byte[])>
        {
            ["ipv4 tcp options"] = (LinkType.Ethernet, [.. Eth(0x0800), .. Ipv4(6, []), .. tcp, .. payload]),
            ["ipv4 options udp"] = (LinkType.Ethernet, [.. Eth(0x0800), .. Ipv4(17, [0x94, 4, 0, 0, 1, 1, 1, 0]), .. udp, .. payload]),
            ["ipv4 udp checksum zero"] = (LinkType.Ethernet, [.. Eth(0x0800), .. Ipv4(17, []), .. udp, .. payload]),
            ["ipv6 extension headers udp"] = (LinkType.Ethernet,
                [.. Eth(0x86DD), .. Ipv6(0), 60, 0, 1, 4, 0, 0, 0, 0, 17, 1, 1, 12, .. new byte[12], .. udp, .. payload]),
            ["ipv6 fragment"] = (LinkType.Ethernet, [.. Eth(0x86DD), .. Ipv6(44), 17, 0, 0, 1, 0, 0, 0, 42, .. udp, .. payload]),
            ["ipv4 fragment"] = (LinkType.Ethernet, [.. Eth(0x0800), .. Ipv4(6, [], 0x2000), .. tcp, .. payload]),
            ["ipv4 icmp"] = (LinkType.Ethernet, [.. Eth(0x0800), .. Ipv4(1, []), 8, 0, 0, 0, 0, 1, 0, 1, .. payload]),
            ["vlan qinq ipv4 tcp"] = (LinkType.Ethernet, [.. mac, 0x88, 0xa8, 0, 100, 0x81, 0, 0, 200, 0x08, 0, .. Ipv4(6, []), .. tcp, .. payload]),
            ["sll ipv4 tcp"] = (LinkType.LinuxSll, [0, 0, 0, 1, 0, 6, .. mac[..6], 0, 0, 0x08, 0, .. Ipv4(6, []), .. tcp, .. payload]),
            ["sll2 ipv6 tcp"] = (LinkType.LinuxSll2, [0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, .. mac[..6], 0, 0, .. Ipv6(6), .. tcp, .. payload]),
            ["raw ipv4 udp"] = (LinkType.Raw, [.. Ipv4(17, []), .. udp, .. payload]),
            ["raw ipv6 tcp"] = (LinkType.Ipv6, [.. Ipv6(6), .. tcp, .. payload]),
            ["arp"] = (LinkType.Ethernet, [.. Eth(0x0806), 0, 1, 8, 0, 6, 4, 0, 1, .. mac[6..], 10, 0, 0, 1, .. new byte[6], 10, 0, 0, 2]),
        };
        // Lengths and checksums as on the wire (the test's own RFC 1071 sum), except where a case says otherwise.
        foreach (var (name, (link, frame)) in frames)
        {
            var layout = FrameHeaders.Parse(link, frame);
            if (layout.IsSplit) Fix(frame, layout, udpChecksum: name != "ipv4 udp checksum zero");
        }
        var bad = frames["ipv4 tcp options"].Item2.ToArray();
        bad[14 + 20 + 17] ^= 0x5a; // wrong TCP checksum (checksum offload on the capturing host)
        frames["ipv4 tcp bad checksum"] = (LinkType.Ethernet, bad);
        var lying = frames["ipv4 tcp options"].Item2.ToArray();
        lying[14 + 3] += 40; // total length says more than was captured
        frames["ipv4 tcp length beyond frame"] = (LinkType.Ethernet, lying);
        return frames;
    }

    /// <summary>Sets lengths and checksums as a sender would (RFC 791, 8200, 768, 9293), from the frame's own bytes.</summary>
    private static void Fix(byte[] f, FrameHeaders.Layout layout, bool udpChecksum = true)
    {
        int ip = layout.Ip;
        int end = f.Length;
        if (layout.IpVersion == 4)
        {
            int ihl = (f[ip] & 15) * 4;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 2), (ushort)(end - ip));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), 0);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 10), Checksum(f.AsSpan(ip, ihl)));
        }
        else BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(ip + 4), (ushort)(end - ip - 40));
        if (layout.L4 < 0) return;
        int l4 = layout.L4, at = l4 + (layout.L4Protocol == 6 ? 16 : 6);
        if (layout.L4Protocol == 17) BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(l4 + 4), (ushort)(end - l4));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(at), 0);
        if (layout.L4Protocol == 17 && !udpChecksum) return;
        var pseudo = new List<byte>();
        if (layout.IpVersion == 4) pseudo.AddRange([.. f.AsSpan(ip + 12, 8), 0, layout.L4Protocol, (byte)((end - l4) >> 8), (byte)(end - l4)]);
        else pseudo.AddRange([.. f.AsSpan(ip + 8, 32), 0, 0, (byte)((end - l4) >> 8), (byte)(end - l4), 0, 0, 0, layout.L4Protocol]);
        pseudo.AddRange(f.AsSpan(l4, end - l4));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(at), Checksum(pseudo.ToArray()));
    }

    /// <summary>RFC 1071 §4.1, word by word.</summary>
    private static ushort Checksum(ReadOnlySpan<byte> bytes)
    {
        uint sum = 0;
        for (int i = 0; i < bytes.Length; i += 2)
            sum += (uint)(bytes[i] << 8 | (i + 1 < bytes.Length ? bytes[i + 1] : 0));
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}
