using System.Diagnostics;
using System.Globalization;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Capture;

/// <summary>
/// Every frame of every corpus capture against tshark's own reading of the file:
/// frame.number, frame.time_epoch (to the nanosecond), frame.len, frame.cap_len, frame.interface_id.
/// </summary>
public class TsharkFrameMetadataTests
{
    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void Frame_metadata_matches_tshark(string name)
    {
        var path = SharedData.Pcap(name);
        var expected = TsharkFrames(path);

        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        int i = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            Assert.True(i < expected.Count, $"more frames than tshark ({expected.Count})");
            var e = expected[i++];
            Assert.Equal(e.Number, frame.Number);
            Assert.Equal(e.TimestampNs, frame.TimestampNs);
            Assert.Equal(e.Length, frame.OriginalLength);
            Assert.Equal(e.CapturedLength, frame.Data.Length);
            Assert.Equal(e.InterfaceId, frame.InterfaceId);
        }
        Assert.Equal(expected.Count, i);
    }

    private sealed record TsharkFrame(long Number, long TimestampNs, int Length, int CapturedLength, int InterfaceId);

    private static List<TsharkFrame> TsharkFrames(string path)
    {
        var psi = new ProcessStartInfo("tshark",
            ["-n", "-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.len",
             "-e", "frame.cap_len", "-e", "frame.interface_id"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["WIRESHARK_CONFIG_DIR"] = Path.Combine(Path.GetTempPath(), "trafficstore-tshark-empty-profile");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var frames = new List<TsharkFrame>();
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null)
        {
            var f = line.Split('\t');
            frames.Add(new TsharkFrame(
                long.Parse(f[0], CultureInfo.InvariantCulture),
                EpochToNs(f[1]),
                int.Parse(f[2], CultureInfo.InvariantCulture),
                int.Parse(f[3], CultureInfo.InvariantCulture),
                f[4].Length == 0 ? 0 : int.Parse(f[4], CultureInfo.InvariantCulture)));
        }
        process.WaitForExit();
        _ = stderr.Result;
        return frames;
    }

    /// <summary>"seconds.fraction" (tshark prints 9 fraction digits) to nanoseconds, exactly.</summary>
    internal static long EpochToNs(string text)
    {
        int dot = text.IndexOf('.');
        if (dot < 0) return long.Parse(text, CultureInfo.InvariantCulture) * 1_000_000_000L;
        long seconds = long.Parse(text[..dot], CultureInfo.InvariantCulture);
        var fraction = text[(dot + 1)..].PadRight(9, '0')[..9];
        return seconds * 1_000_000_000L + long.Parse(fraction, CultureInfo.InvariantCulture);
    }
}
