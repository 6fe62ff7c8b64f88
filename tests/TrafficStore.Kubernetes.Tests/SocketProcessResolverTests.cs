using System.Net;
using System.Net.Sockets;
using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Process;

namespace TrafficStore.Kubernetes.Tests;

public class SocketProcessResolverTests
{
    [Fact]
    public void ResolvesThisProcessesTcpListener()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        ushort port = (ushort)((IPEndPoint)listener.LocalEndpoint).Port;

        var resolver = new SocketProcessResolver();
        Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("127.0.0.1"), port, out var process));
        Assert.Equal(Environment.ProcessId, process.Pid);
        // comm is the kernel's name for the task, at most 15 characters of the executable's name.
        string expectedName = System.Diagnostics.Process.GetCurrentProcess().ProcessName;
        Assert.Equal(expectedName[..Math.Min(15, expectedName.Length)], process.Command);
        Assert.Contains(Environment.GetCommandLineArgs()[0].Split('/').Last(), process.CommandLine);

        // Cached: the second lookup does not walk /proc again.
        Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("127.0.0.1"), port, out _));
        Assert.Equal(1, resolver.Statistics.Refreshes);
        Assert.Equal(1, resolver.Statistics.Hits);
    }

    [Fact]
    public void ResolvesWildcardAndUdpSocketsAndRateLimitsMisses()
    {
        using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Any, 0));
        ushort port = (ushort)((IPEndPoint)udp.LocalEndPoint!).Port;

        var resolver = new SocketProcessResolver(minRefreshInterval: TimeSpan.FromHours(1));
        // Bound to 0.0.0.0: any local address on that port belongs to it.
        Assert.True(resolver.TryResolve(SocketProtocol.Udp, NetAddress.Parse("10.1.2.3"), port, out var process));
        Assert.Equal(Environment.ProcessId, process.Pid);

        // A socket opened after the refresh: the miss is rate-limited, an explicit refresh finds it.
        using var late = new TcpListener(IPAddress.Loopback, 0);
        late.Start();
        ushort latePort = (ushort)((IPEndPoint)late.LocalEndpoint).Port;
        Assert.False(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("127.0.0.1"), latePort, out _));
        Assert.True(resolver.Statistics.RateLimitedMisses >= 1);
        resolver.Refresh();
        Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("127.0.0.1"), latePort, out var lateProcess));
        Assert.Equal(Environment.ProcessId, lateProcess.Pid);
    }

    [Theory]
    // Kernel format: each 32-bit word printed from host (little-endian) memory with %08X, the port with %04X.
    [InlineData("0100007F:1F90", "127.0.0.1", 8080)]
    [InlineData("00000000:0035", "0.0.0.0", 53)]
    [InlineData("0A01A8C0:01BB", "192.168.1.10", 443)]
    [InlineData("00000000000000000000000001000000:0016", "::1", 22)]
    [InlineData("0000000000000000FFFF00000100007F:1F90", "::ffff:127.0.0.1", 8080)]
    [InlineData("B80D0120000000000000000001000000:0050", "2001:db8::1", 80)]
    public void ParsesProcNetAddresses(string field, string address, int port)
    {
        Assert.True(ProcNetTable.TryParseEndpoint(field, out var parsed, out ushort parsedPort));
        Assert.Equal(NetAddress.Parse(address), parsed);
        Assert.Equal(port, parsedPort);
    }

    [Theory]
    [InlineData("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3d1c4b8e_5a6f_4c2d_9e8f_0a1b2c3d4e5f.slice/cri-containerd-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "containerd", "3d1c4b8e-5a6f-4c2d-9e8f-0a1b2c3d4e5f")]
    [InlineData("12:memory:/kubepods/besteffort/pod3d1c4b8e-5a6f-4c2d-9e8f-0a1b2c3d4e5f/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n",
        "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", "", "3d1c4b8e-5a6f-4c2d-9e8f-0a1b2c3d4e5f")]
    [InlineData("0::/system.slice/docker-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.scope\n",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "docker", "")]
    [InlineData("4:cpu,cpuacct:/docker/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n",
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "docker", "")]
    [InlineData("0::/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice/crio-cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.scope\n",
        "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "cri-o", "11111111-2222-3333-4444-555555555555")]
    [InlineData("0::/user.slice/user-1000.slice/session-2.scope\n", "", "", "")]
    public void ReadsContainerIdsFromCgroupPaths(string cgroup, string id, string runtime, string podUid)
    {
        Assert.Equal((id, runtime, podUid), CgroupContainer.Parse(cgroup));
    }
}
