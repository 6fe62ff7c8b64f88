using System.Text;
using TrafficStore.Agent.Shipping;
using TrafficStore.Agent.Spool;

namespace TrafficStore.Agent.Tests;

/// <summary>
/// The spool's <c>put-limit</c> file (the DoPut message limit learned from a server): replaced durably like the
/// spool's other small files, and a file that is not the one line it should be is not used (the shipper starts at
/// its default bound and says why) instead of failing the agent or applying a misread limit.
/// </summary>
public sealed class PutLimitFileTests : IDisposable
{
    private static readonly Uri Server = new("http://127.0.0.1:8815/");
    private readonly string _dir = Directory.CreateTempSubdirectory("ts-put-limit-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string FilePath => Path.Combine(_dir, PutLimitFile.FileName);

    [Fact]
    public void ASavedLimitIsInTheDirectoryWhenItsFsyncRuns_AndLoadsForTheSameServerOnly()
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(_dir));
        var atSync = new List<string?>();
        void OnSync(string directory)
        {
            // The event is process-wide: other tests' spools sync too.
            if (directory == full) lock (atSync) atSync.Add(File.Exists(FilePath) ? File.ReadAllText(FilePath) : null);
        }
        SpoolDirectory.Syncing += OnSync;
        try { PutLimitFile.Save(_dir, Server, 1_234_567); }
        finally { SpoolDirectory.Syncing -= OnSync; }

        // The rename is made durable by the directory fsync, after it: a power loss cannot bring back an older limit.
        Assert.Equal(["1234567 http://127.0.0.1:8815/\n"], atSync);
        Assert.False(File.Exists(FilePath + ".tmp"));
        Assert.Equal(1_234_567, PutLimitFile.Load(_dir, Server, out var problem));
        Assert.Null(problem);
        Assert.Null(PutLimitFile.Load(_dir, new Uri("http://127.0.0.1:9999/"), out problem));
        Assert.Null(problem); // another server's limit is not a damaged file
        Assert.Null(PutLimitFile.Load(Path.Combine(_dir, "none"), Server, out problem));
        Assert.Null(problem);
    }

    [Fact]
    public void AServerWithAUnicodeHostIsKeptInAsciiAndFoundAgain()
    {
        var server = new Uri("http://bücher.example:8815/");
        PutLimitFile.Save(_dir, server, 4096);
        Assert.All(File.ReadAllBytes(FilePath), b => Assert.True(b < 0x80));
        Assert.Equal(4096, PutLimitFile.Load(_dir, server, out var problem));
        Assert.Null(problem);
        Assert.Null(PutLimitFile.Load(_dir, new Uri("http://bucher.example:8815/"), out _));
    }

    public static TheoryData<string> DamagedFiles() => new()
    {
        "",
        "\n",
        "garbage",
        "1234567",                              // cut short before the URL
        "1234567 http://127.0.0.1:8815/",       // cut short before the newline
        "1234567 http://127.0.0.1:88",          // cut short inside the URL
        "1234567 \n",
        " 1234567 http://127.0.0.1:8815/\n",
        "-5 http://127.0.0.1:8815/\n",
        "0 http://127.0.0.1:8815/\n",
        "+5 http://127.0.0.1:8815/\n",
        "99999999999999999999 http://127.0.0.1:8815/\n",
        "1234567 http://127.0.0.1:8815/\n1234567 http://127.0.0.1:8815/\n",
        "\0\0\0\0\0\0\0\0",                    // a file whose blocks never reached the disk
    };

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void ADamagedFileIsNotUsed_AndTheProblemNamesIt(string content)
    {
        File.WriteAllText(FilePath, content, Encoding.Latin1);
        Assert.Null(PutLimitFile.Load(_dir, Server, out var problem));
        Assert.NotNull(problem);
        Assert.Contains(FilePath, problem);
        Assert.Contains("damaged", problem);
        Assert.DoesNotContain('\n', problem);
        Assert.DoesNotContain('\0', problem);
    }

    [Fact]
    public void AShipperOverADamagedFileStartsAtItsBound_SaysWhy_AndItsNextSaveRepairsTheFile()
    {
        File.WriteAllBytes(FilePath, [0xFF, 0xFE, 0x00, 0x31, 0x20]);
        using (var spool = new DiskSpool(_dir, 1 << 20))
        using (var shipper = new FlightShipper(spool, Server, token: null, maxMessageBytes: 8 << 20))
        {
            Assert.Equal(8 << 20, shipper.Statistics.MessageLimit);
            Assert.Contains("damaged", shipper.PutLimitProblem);
        }
        PutLimitFile.Save(_dir, Server, 1 << 20);
        using (var spool = new DiskSpool(_dir, 1 << 20))
        using (var shipper = new FlightShipper(spool, Server, token: null, maxMessageBytes: 8 << 20))
        {
            Assert.Equal(1 << 20, shipper.Statistics.MessageLimit);
            Assert.Null(shipper.PutLimitProblem);
        }
    }
}
