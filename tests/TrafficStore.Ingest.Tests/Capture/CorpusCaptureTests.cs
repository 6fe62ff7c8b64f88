using System.Diagnostics;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>Reads every corpus capture and compares the frame count with capinfos.</summary>
public class CorpusCaptureTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Frame_count_matches_capinfos(string name)
    {
        var path = SharedData.Pcap(name);
        long expected = CapinfosFrameCount(path);

        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        long count = 0, lastNumber = 0;
        CaptureReadStatus status;
        while ((status = source.TryReadNext(ref frame)) == CaptureReadStatus.Frame)
        {
            count++;
            Assert.Equal(lastNumber + 1, frame.Number);
            lastNumber = frame.Number;
            Assert.True(frame.Data.Length <= Math.Max(frame.OriginalLength, frame.Data.Length));
        }
        Assert.Equal(expected, count);
        if (name.StartsWith("corrupt-cut-short", StringComparison.Ordinal))
        {
            Assert.Equal(CaptureReadStatus.Error, status);
            Assert.Equal("cut_short", source.Error!.Kind);
            Assert.True(source.Error.ByteOffset > 0 && source.Error.ByteOffset < new FileInfo(path).Length);
            Assert.Contains(name, source.Error.ToString());
        }
        else
        {
            Assert.Equal(CaptureReadStatus.EndOfCapture, status);
            Assert.Null(source.Error);
        }
    }

    [Fact]
    public void Empty_capture_has_no_frames_and_no_error()
    {
        using var source = CaptureFile.Open(SharedData.Pcap("empty-no-packets.pcap"));
        var frame = new CaptureFrame();
        Assert.Equal(CaptureReadStatus.EndOfCapture, source.TryReadNext(ref frame));
        Assert.Null(source.Error);
    }

    [Fact]
    public void Nanosecond_pcap_keeps_full_precision()
    {
        // tcpdump's nano output of the same capture (a baseline beside it) prints the first timestamp.
        var first = File.ReadLines(SharedData.Pcap("sll-nanosec-tcp-handshake.tcpdump-nano-tt.out")).First();
        var epoch = first.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]; // "  1  seconds.nanoseconds IP ..."
        var parts = epoch.Split('.');
        long expected = long.Parse(parts[0]) * 1_000_000_000L + long.Parse(parts[1].PadRight(9, '0'));

        using var source = CaptureFile.Open(SharedData.Pcap("sll-nanosec-tcp-handshake.pcap"));
        var frame = new CaptureFrame();
        Assert.Equal(CaptureReadStatus.Frame, source.TryReadNext(ref frame));
        Assert.Equal(expected, frame.TimestampNs);
        Assert.Equal(LinkType.LinuxSll, frame.LinkType);
    }

    /// <summary>capinfos -c -M -T -r: the frame count tshark's wiretap reads (also for cut-short files).</summary>
    internal static long CapinfosFrameCount(string path)
    {
        var psi = new ProcessStartInfo("capinfos", ["-c", "-M", "-T", "-r", path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        string output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return long.Parse(line.Split('\t')[^1].Trim());
    }
}
