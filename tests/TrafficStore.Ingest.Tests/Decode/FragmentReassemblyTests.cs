using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using static TrafficStore.Ingest.Tests.Decode.PacketBytes;

namespace TrafficStore.Ingest.Tests.Decode;

public class FragmentReassemblyTests
{
    private static readonly byte[] Request = Text(string.Concat(Enumerable.Repeat("GET /fragmented HTTP/1.1\r\nHost: example\r\n", 8)));

    private static byte[] Segment() => Tcp(40000, 80, 100, 200, 0x018, 1000, Request);

    /// <summary>IPv4 fragments of <paramref name="datagram"/> (the IP payload), each <paramref name="size"/> bytes.</summary>
    private static List<byte[]> V4Fragments(byte[] datagram, int size, ushort id = 0x425F, string src = "172.16.0.1", byte protocol = 6)
    {
        var result = new List<byte[]>();
        for (int offset = 0; offset < datagram.Length; offset += size)
        {
            int length = Math.Min(size, datagram.Length - offset);
            bool more = offset + length < datagram.Length;
            result.Add(Ethernet(0x0800, Ipv4(src, "172.16.0.2", protocol, datagram[offset..(offset + length)],
                identification: id, moreFragments: more, fragmentOffset: offset)));
        }
        return result;
    }

    private static List<byte[]> V6Fragments(byte[] datagram, int size, uint id, byte nextHeader = 6)
    {
        var result = new List<byte[]>();
        for (int offset = 0; offset < datagram.Length; offset += size)
        {
            int length = Math.Min(size, datagram.Length - offset);
            bool more = offset + length < datagram.Length;
            result.Add(Ethernet(0x86DD, Ipv6("2001:db8::1", "2001:db8::2", 44,
                Ipv6Fragment(nextHeader, offset, more, id, datagram[offset..(offset + length)]))));
        }
        return result;
    }

    private static List<DecodeResult> DecodeAll(PacketDecoder decoder, IEnumerable<byte[]> frames, long startNs = 1_000_000_000, long stepNs = 1000)
    {
        var results = new List<DecodeResult>();
        long n = 1, t = startNs;
        foreach (var f in frames) results.Add(DecodeResult.Of(decoder, f, LinkType.Ethernet, null, n++, t += stepNs));
        return results;
    }

    private static void AssertReassembledRequest(DecodeResult r, long frameNumber, int frameLength)
    {
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.True(r.Packet.Reassembled);
        Assert.True(r.Packet.IsTcp);
        Assert.Equal(frameNumber, r.Packet.FrameNumber);
        Assert.Equal(frameLength, r.Packet.FrameLength);
        Assert.Equal(Request.Length, r.Packet.PayloadLength);
        Assert.Equal(Request.Length, r.Packet.CapturedPayloadLength);
        Assert.Equal(Request, r.Payload);
        Assert.Equal((ushort)80, r.Packet.DestinationPort);
    }

    [Fact]
    public void In_order_fragments_count_under_the_last_frame()
    {
        var frames = V4Fragments(Segment(), 64);
        var decoder = new PacketDecoder();
        var results = DecodeAll(decoder, frames);
        Assert.All(results[..^1], r => Assert.Equal(DecodeStatus.FragmentHeld, r.Status));
        AssertReassembledRequest(results[^1], frames.Count, frames[^1].Length);
        Assert.Equal(0, decoder.PendingFragmentDatagrams);
        Assert.Equal(1, decoder.Statistics.Reassembled);
        Assert.Equal(frames.Count - 1, decoder.Statistics.FragmentsHeld);
    }

    [Fact]
    public void Out_of_order_fragments_complete_on_the_frame_that_fills_the_last_hole()
    {
        var frames = V4Fragments(Segment(), 64);
        // Last fragment first, then the rest in reverse: the first fragment completes it.
        var order = Enumerable.Range(0, frames.Count).Reverse().ToList();
        var results = DecodeAll(new PacketDecoder(), order.Select(i => frames[i]));
        Assert.All(results[..^1], r => Assert.Equal(DecodeStatus.FragmentHeld, r.Status));
        AssertReassembledRequest(results[^1], frames.Count, frames[0].Length);
    }

    [Fact]
    public void Overlapping_fragments_keep_the_first_bytes_and_are_counted()
    {
        var datagram = Segment();
        var frames = V4Fragments(datagram, 64);
        // A rogue copy of the second fragment with different content arrives after the real one.
        var rogueData = datagram[64..128].Select(b => (byte)~b).ToArray();
        var rogue = Ethernet(0x0800, Ipv4("172.16.0.1", "172.16.0.2", 6, rogueData, identification: 0x425F, moreFragments: true, fragmentOffset: 64));
        // And one straddling the first two (already held) fragments at an 8-byte boundary.
        var straddle = Ethernet(0x0800, Ipv4("172.16.0.1", "172.16.0.2", 6, new byte[64], identification: 0x425F, moreFragments: true, fragmentOffset: 32));
        var sequence = new List<byte[]> { frames[0], frames[1], rogue, straddle };
        sequence.AddRange(frames.Skip(2));
        var decoder = new PacketDecoder();
        var results = DecodeAll(decoder, sequence);
        AssertReassembledRequest(results[^1], sequence.Count, frames[^1].Length);
        Assert.Equal(DecodeAnomaly.FragmentOverlap, results[2].Anomaly);
        Assert.Equal(2, decoder.Statistics[DecodeAnomaly.FragmentOverlap]); // the rogue copy and the straddling one
    }

    [Fact]
    public void Overlap_resolution_does_not_depend_on_the_duplicate_arriving_late()
    {
        // The same two conflicting copies in the opposite order: the first to arrive wins, both times.
        var datagram = Segment();
        var frames = V4Fragments(datagram, 64);
        var rogueData = datagram[64..128].Select(b => (byte)~b).ToArray();
        var rogue = Ethernet(0x0800, Ipv4("172.16.0.1", "172.16.0.2", 6, rogueData, identification: 0x425F, moreFragments: true, fragmentOffset: 64));
        var sequence = new List<byte[]> { frames[0], rogue };
        sequence.AddRange(frames.Skip(1));
        var last = DecodeAll(new PacketDecoder(), sequence)[^1];
        Assert.Equal(DecodeStatus.Decoded, last.Status);
        var expected = datagram.ToArray();
        rogueData.CopyTo(expected, 64);
        Assert.Equal(expected[20..], last.Payload); // TCP header is 20 bytes
    }

    [Fact]
    public void Interleaved_datagrams_are_kept_apart()
    {
        var a = V4Fragments(Segment(), 48, id: 1);
        var b = V4Fragments(Segment(), 48, id: 2, src: "172.16.0.9");
        var mixed = a.Zip(b, (x, y) => new[] { x, y }).SelectMany(p => p).ToList();
        var results = DecodeAll(new PacketDecoder(), mixed);
        var done = results.Where(r => r.Status == DecodeStatus.Decoded).ToList();
        Assert.Equal(2, done.Count);
        Assert.Equal(NetAddress.Parse("172.16.0.1"), done[0].Packet.Source);
        Assert.Equal(NetAddress.Parse("172.16.0.9"), done[1].Packet.Source);
        Assert.All(done, r => Assert.Equal(Request, r.Payload));
    }

    [Fact]
    public void Never_completed_datagram_is_counted_at_the_end_of_the_capture()
    {
        var frames = V4Fragments(Segment(), 64);
        var decoder = new PacketDecoder();
        var results = DecodeAll(decoder, frames.Take(frames.Count - 1));
        Assert.All(results, r => Assert.Equal(DecodeStatus.FragmentHeld, r.Status));
        Assert.Equal(1, decoder.PendingFragmentDatagrams);
        decoder.FinishCapture();
        Assert.Equal(0, decoder.PendingFragmentDatagrams);
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.FragmentIncomplete]);
    }

    [Fact]
    public void Fragments_older_than_the_timeout_are_dropped()
    {
        var frames = V4Fragments(Segment(), 64);
        var decoder = new PacketDecoder(new DecoderOptions { FragmentTimeout = TimeSpan.FromSeconds(30) });
        DecodeResult.Of(decoder, frames[0], LinkType.Ethernet, null, 1, 0);
        // 31 s later: the first fragment is gone, so the rest can never complete.
        var late = frames.Skip(1).Select((f, i) => DecodeResult.Of(decoder, f, LinkType.Ethernet, null, i + 2, 31_000_000_000L)).ToList();
        Assert.Equal(DecodeAnomaly.None, late[0].Anomaly); // the timeout belongs to no frame
        Assert.Equal(1, decoder.PendingFragmentDatagrams);   // only the late fragments' new datagram
        Assert.All(late, r => Assert.Equal(DecodeStatus.FragmentHeld, r.Status));
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.FragmentTimeout]);
    }

    [Fact]
    public void Any_later_frame_expires_pending_datagrams()
    {
        var decoder = new PacketDecoder(); // default timeout 60 s
        DecodeResult.Of(decoder, V4Fragments(Segment(), 64)[0], LinkType.Ethernet, null, 1, 0);
        var unrelated = Ethernet(0x0800, Ipv4("10.0.0.1", "10.0.0.2", 17, Udp(1, 2, [])));
        DecodeResult.Of(decoder, unrelated, LinkType.Ethernet, null, 2, 60_000_000_000L);
        Assert.Equal(1, decoder.PendingFragmentDatagrams); // exactly 60 s is not yet past
        var r = DecodeResult.Of(decoder, unrelated, LinkType.Ethernet, null, 3, 60_000_000_001L);
        Assert.Equal(DecodeAnomaly.None, r.Anomaly);
        Assert.Equal(0, decoder.PendingFragmentDatagrams);
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.FragmentTimeout]);
    }

    [Fact]
    public void Huge_timeout_does_not_overflow()
    {
        var frames = V4Fragments(Segment(), 64);
        var decoder = new PacketDecoder(new DecoderOptions { FragmentTimeout = TimeSpan.MaxValue });
        var results = frames.Select((f, i) => DecodeResult.Of(decoder, f, LinkType.Ethernet, null, i + 1, long.MaxValue - 10 + i)).ToList();
        AssertReassembledRequest(results[^1], frames.Count, frames[^1].Length);
    }

    [Fact]
    public void Invalid_limits_are_rejected_up_front()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketDecoder(new DecoderOptions { MaxPendingDatagrams = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PacketDecoder(new DecoderOptions { FragmentTimeout = TimeSpan.Zero }));
    }

    [Fact]
    public void Pending_datagram_limit_drops_the_oldest()
    {
        var decoder = new PacketDecoder(new DecoderOptions { MaxPendingDatagrams = 2 });
        var d1 = V4Fragments(Segment(), 64, id: 1);
        var d2 = V4Fragments(Segment(), 64, id: 2);
        var d3 = V4Fragments(Segment(), 64, id: 3);
        var results = DecodeAll(decoder, [d1[0], d2[0], d3[0]]);
        Assert.Equal(DecodeAnomaly.FragmentMemoryLimit, results[2].Anomaly);
        Assert.Equal(2, decoder.PendingFragmentDatagrams);
        Assert.Equal(1, decoder.Statistics[DecodeAnomaly.FragmentMemoryLimit]);
        // Datagrams 2 and 3 still complete; datagram 1 lost its first fragment and never does.
        Assert.Equal(DecodeStatus.Decoded, DecodeAll(decoder, d2.Skip(1))[^1].Status);
        Assert.Equal(DecodeStatus.Decoded, DecodeAll(decoder, d3.Skip(1))[^1].Status);
        Assert.DoesNotContain(DecodeAll(decoder, d1.Skip(1)), r => r.Status == DecodeStatus.Decoded);
    }

    [Fact]
    public void Byte_limit_drops_datagrams_and_records_it()
    {
        var decoder = new PacketDecoder(new DecoderOptions { MaxPendingFragmentBytes = 100 });
        var frames = V4Fragments(Segment(), 64);
        var results = DecodeAll(decoder, frames);
        Assert.Contains(results, r => r.Anomaly == DecodeAnomaly.FragmentMemoryLimit);
        Assert.DoesNotContain(results, r => r.Status == DecodeStatus.Decoded);
        Assert.True(decoder.Statistics[DecodeAnomaly.FragmentMemoryLimit] >= 1);
    }

    [Fact]
    public void Byte_limit_evicts_the_oldest_datagram_first()
    {
        // Each small datagram takes one 2 KiB reassembly buffer: two fit in 4 KiB, a third does not.
        var decoder = new PacketDecoder(new DecoderOptions { MaxPendingFragmentBytes = 4096 });
        var d1 = V4Fragments(Segment(), 64, id: 1);
        var d2 = V4Fragments(Segment(), 64, id: 2);
        var d3 = V4Fragments(Segment(), 64, id: 3);
        var firsts = DecodeAll(decoder, [d1[0], d2[0], d3[0]]);
        Assert.Equal([DecodeAnomaly.None, DecodeAnomaly.None, DecodeAnomaly.FragmentMemoryLimit], firsts.Select(r => r.Anomaly));
        Assert.Equal(DecodeStatus.Decoded, DecodeAll(decoder, d2.Skip(1))[^1].Status);
        Assert.Equal(DecodeStatus.Decoded, DecodeAll(decoder, d3.Skip(1))[^1].Status);
        Assert.DoesNotContain(DecodeAll(decoder, d1.Skip(1)), r => r.Status == DecodeStatus.Decoded);
    }

    [Fact]
    public void Fragment_beyond_65535_bytes_is_rejected()
    {
        var frame = Ethernet(0x0800, Ipv4("172.16.0.1", "172.16.0.2", 17, new byte[64], identification: 9, moreFragments: false, fragmentOffset: 65528));
        var r = DecodeResult.Of(frame, LinkType.Ethernet);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.FragmentTooLarge), (r.Status, r.Anomaly));
    }

    [Fact]
    public void Fragment_cut_by_the_snaplen_cannot_be_used()
    {
        var frames = V4Fragments(Segment(), 64);
        var r = DecodeResult.Of(frames[0][..50], LinkType.Ethernet, originalLength: frames[0].Length);
        Assert.Equal((DecodeStatus.Malformed, DecodeAnomaly.FragmentTruncated), (r.Status, r.Anomaly));
    }

    [Fact]
    public void Ipv6_fragments_reassemble_with_the_first_fragments_next_header()
    {
        var datagram = Udp(53, 5353, Request);
        var frames = V6Fragments(datagram, 128, id: 77, nextHeader: 17);
        var results = DecodeAll(new PacketDecoder(), [frames[^1], .. frames[..^1]]);
        var last = results[^1];
        Assert.Equal(DecodeStatus.Decoded, last.Status);
        Assert.True(last.Packet.Reassembled);
        Assert.True(last.Packet.IsUdp);
        Assert.Equal(6, last.Packet.IpVersion);
        Assert.Equal(Request, last.Payload);
        Assert.Equal(Request.Length, last.Packet.PayloadLength);
        Assert.All(results[..^1], r => Assert.Equal(DecodeStatus.FragmentHeld, r.Status));
    }

    [Fact]
    public void Ipv6_fragment_with_extension_headers_after_it()
    {
        var datagram = Ipv6Extension(6, 0, Segment()); // destination options inside the fragmentable part
        var frames = V6Fragments(datagram, 96, id: 5, nextHeader: 60);
        var last = DecodeAll(new PacketDecoder(), frames)[^1];
        Assert.Equal(DecodeStatus.Decoded, last.Status);
        Assert.Equal(Request, last.Payload);
    }

    [Fact]
    public void Ipv6_atomic_fragment_is_decoded_in_place()
    {
        var frame = Ethernet(0x86DD, Ipv6("2001:db8::1", "2001:db8::2", 44, Ipv6Fragment(6, 0, false, 3, Segment())));
        var r = DecodeResult.Of(frame, LinkType.Ethernet);
        Assert.Equal(DecodeStatus.Decoded, r.Status);
        Assert.False(r.Packet.Reassembled);
        Assert.Equal(Request, r.Payload);
    }

    [Fact]
    public void Reassembly_can_be_switched_off()
    {
        var frames = V4Fragments(Segment(), 64);
        var results = DecodeAll(new PacketDecoder(new DecoderOptions { ReassembleFragments = false }), frames);
        Assert.All(results, r => Assert.Equal(DecodeStatus.OtherIp, r.Status));
    }

    [Fact]
    public void Reassembled_icmp_is_other_ip()
    {
        var icmp = new byte[300];
        icmp[0] = 8; // echo request
        var results = DecodeAll(new PacketDecoder(), V4Fragments(icmp, 128, protocol: 1));
        Assert.Equal(DecodeStatus.OtherIp, results[^1].Status);
        Assert.True(results[^1].Packet.Reassembled);
        Assert.Equal(IpProtocol.Icmp, results[^1].Packet.Protocol);
    }
}
