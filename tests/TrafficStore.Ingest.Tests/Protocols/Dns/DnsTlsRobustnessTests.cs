using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Tls;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Dns;

/// <summary>
/// Every DNS and TLS payload of the corpus (as the pipeline hands them to the parsers), truncated
/// at many points and with random byte flips (fixed seed): the parsers never throw and allocate
/// in proportion to their input, never without bound.
/// </summary>
public class DnsTlsRobustnessTests
{
    private static readonly string[] Captures =
    {
        "dns-mixed-types-nxdomain.pcap", "dns-tcp.pcap", "dns-udp-a.pcap", "ipv6-frag-dns.pcap", "pcapng-multi-interface-dns.pcapng",
        "tls-mixed-tls10-tls12-tls13.pcap", "tls12-alpn-h2-loopback-v6.pcap", "tls12-handshake-failure-alert.pcap", "tls12-rsa-rc4.pcap",
        "tls13-hello-retry-request.pcap", "tls13-wolfssl.pcap", "pcapng-many-interfaces.pcapng", "sll-mixed-http-dns.pcap",
        "mixed-large-many-protocols.pcap",
    };

    private static (RecordingStreamProtocol Tls, RecordingStreamProtocol DnsTcp, RecordingDatagramProtocol DnsUdp) Record(string capture)
    {
        var dns = new DnsProtocol(new ListSink<DnsTransaction>());
        var tls = new RecordingStreamProtocol(new TlsProtocol(new ListSink<TlsHandshake>()));
        var dnsTcp = new RecordingStreamProtocol(dns);
        var dnsUdp = new RecordingDatagramProtocol(dns);
        using var source = CaptureFile.Open(SharedData.Pcap(capture));
        new IngestPipeline(new ListSink<ConnectionRecord>(), new IStreamProtocol[] { tls, dnsTcp }, new IDatagramProtocol[] { dnsUdp }).Run(source);
        return (tls, dnsTcp, dnsUdp);
    }

    private static List<StreamChunk> Mutate(List<StreamChunk> chunks, Random random, bool flip)
    {
        // cut the whole exchange at a random byte, then flip a few bytes of what is left
        long total = chunks.Sum(c => (long)c.Data.Length);
        long cut = random.NextInt64(total + 1);
        var result = new List<StreamChunk>();
        foreach (var c in chunks)
        {
            if (cut <= 0) break;
            var data = c.Data[..(int)Math.Min(c.Data.Length, cut)];
            cut -= data.Length;
            if (flip && data.Length > 0)
            {
                data = (byte[])data.Clone();
                for (int i = random.Next(1, 4); i > 0; i--) data[random.Next(data.Length)] ^= (byte)random.Next(1, 256);
            }
            result.Add(c with { Data = data });
        }
        return result;
    }

    [Fact]
    public void MutatedCorpusPayloadsNeverThrowAndStayBounded()
    {
        var random = new Random(20240601);
        int replays = 0;
        foreach (var capture in Captures)
        {
            var (tls, dnsTcp, dnsUdp) = Record(capture);
            var streams = tls.Connections.Select(c => (c.Flow, c.Chunks, Protocol: (IStreamProtocol)new TlsProtocol(new ListSink<TlsHandshake>())))
                .Concat(dnsTcp.Connections.Select(c => (c.Flow, c.Chunks, Protocol: (IStreamProtocol)new DnsProtocol(new ListSink<DnsTransaction>()))));
            foreach (var (flow, chunks, protocol) in streams)
            {
                if (chunks.Count == 0) continue;
                for (int round = 0; round < 40; round++)
                {
                    var mutated = Mutate(chunks, random, flip: round % 2 == 1);
                    long input = mutated.Sum(c => (long)c.Data.Length);
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    var parser = protocol.CreateParser(flow);
                    foreach (var c in mutated) parser.OnData(c.Direction, c.Data, c.Segment);
                    parser.OnEnd(0);
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    Assert.True(allocated < 64 * input + (1 << 20), $"{capture}: {allocated} bytes allocated for {input} input bytes");
                    replays++;
                }
            }
            foreach (var (flow, datagrams) in dnsUdp.Flows)
            {
                IDatagramProtocol dns = new DnsProtocol(new ListSink<DnsTransaction>());
                for (int round = 0; round < 40; round++)
                {
                    var parser = dns.CreateParser(flow);
                    long input = 0, before = GC.GetAllocatedBytesForCurrentThread();
                    foreach (var d in datagrams)
                    {
                        var m = Mutate(new List<StreamChunk> { d }, random, flip: round % 2 == 1);
                        foreach (var c in m) { parser.OnDatagram(c.Direction, c.Data, c.Segment); input += c.Data.Length; }
                    }
                    parser.OnEnd(0);
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    Assert.True(allocated < 64 * input + (1 << 20), $"{capture}: {allocated} bytes allocated for {input} input bytes");
                    replays++;
                }
            }
        }
        Assert.True(replays > 500, $"only {replays} replays");
    }

    [Fact]
    public void EveryCorpusDnsMessageTruncatedAtEveryByteNeverThrows()
    {
        int messages = 0;
        foreach (var capture in Captures)
        {
            var (_, _, dnsUdp) = Record(capture);
            foreach (var (_, datagrams) in dnsUdp.Flows)
            {
                foreach (var d in datagrams)
                {
                    messages++;
                    for (int cut = 0; cut <= d.Data.Length; cut++)
                    {
                        var m = DnsMessageReader.Parse(d.Data.AsSpan(0, cut), new DnsOptions());
                        if (cut < d.Data.Length && m is not null && m.Anomalies.Count == 0)
                        {
                            // a cut message that parses cleanly must have lost nothing the header counted
                            Assert.Equal(m.QuestionCount + m.AnswerCount + m.AuthorityCount + m.AdditionalCount,
                                m.Questions.Count + m.Answers.Count + m.Authority.Count + m.Additional.Count);
                        }
                    }
                }
            }
        }
        Assert.True(messages > 100, $"only {messages} DNS datagrams in the corpus subset");
    }
}
