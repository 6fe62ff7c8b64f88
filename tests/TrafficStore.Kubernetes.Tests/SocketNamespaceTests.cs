using System.Net.NetworkInformation;
using System.Net.Sockets;
using TrafficStore.Ingest.Decode;
using TrafficStore.Kubernetes.Process;

namespace TrafficStore.Kubernetes.Tests;

public class SocketNamespaceTests
{
    [Fact]
    public void LocalAddressesFromProcMatchTheOperatingSystemsInterfaceList()
    {
        var expected = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .Select(a => { if (a.AddressFamily == AddressFamily.InterNetworkV6) a.ScopeId = 0; return NetAddress.FromIPAddress(a); })
            .ToHashSet();
        var v4 = NetnsAddresses.ParseFibTrie(File.ReadAllText("/proc/self/net/fib_trie")).ToHashSet();
        Assert.Equal(expected.Where(a => !a.IsV6).ToHashSet(), v4);
        if (File.Exists("/proc/self/net/if_inet6"))
        {
            var v6 = NetnsAddresses.ParseIfInet6(File.ReadAllText("/proc/self/net/if_inet6")).ToHashSet();
            Assert.Equal(expected.Where(a => a.IsV6).ToHashSet(), v6);
        }
    }

    private const string TcpHeader =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    private static string TcpListen(string local, long inode) =>
        $"   0: {local} 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n";

    private static string FibTrie(params string[] locals)
    {
        var text = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n";
        foreach (var ip in locals) text += $"        |-- {ip}\n           /32 host LOCAL\n";
        return text;
    }

    private static void MakeProcess(string root, int pid, string netns, string tcp, string? fibTrie, long socketInode,
        string comm, string cgroup)
    {
        string dir = Path.Combine(root, pid.ToString());
        Directory.CreateDirectory(Path.Combine(dir, "ns"));
        Directory.CreateDirectory(Path.Combine(dir, "net"));
        Directory.CreateDirectory(Path.Combine(dir, "fd"));
        File.CreateSymbolicLink(Path.Combine(dir, "ns", "net"), netns);
        File.WriteAllText(Path.Combine(dir, "net", "tcp"), TcpHeader + tcp);
        if (fibTrie is not null) File.WriteAllText(Path.Combine(dir, "net", "fib_trie"), fibTrie);
        File.CreateSymbolicLink(Path.Combine(dir, "fd", "0"), "/dev/null");
        File.CreateSymbolicLink(Path.Combine(dir, "fd", "3"), $"socket:[{socketInode}]");
        File.WriteAllText(Path.Combine(dir, "comm"), comm + "\n");
        File.WriteAllText(Path.Combine(dir, "cmdline"), comm + "\0--flag\0");
        File.WriteAllText(Path.Combine(dir, "cgroup"), cgroup);
    }

    [Fact]
    public void WildcardSocketsInPodNamespacesResolveThroughThePodsOwnAddresses()
    {
        string root = Path.Combine(Path.GetTempPath(), $"ts-proc-{Guid.NewGuid():N}");
        try
        {
            // The node's namespace (the resolver's own): sshd on 0.0.0.0:22.
            MakeProcess(root, 1, "net:[4026531840]", TcpListen("00000000:0016", 500), FibTrie("192.168.10.11"), 500,
                "sshd", "0::/system.slice/ssh.service\n");
            // Two pods, each in its own namespace, both listening on 0.0.0.0:8080.
            MakeProcess(root, 200, "net:[4026532200]", TcpListen("00000000:1F90", 700), FibTrie("127.0.0.1", "10.244.1.17"), 700,
                "nginx", "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod3d1c4b8e_5a6f_4c2d_9e8f_0a1b2c3d4e5f.slice/cri-containerd-" + new string('a', 64) + ".scope\n");
            MakeProcess(root, 300, "net:[4026532300]", TcpListen("00000000:1F90", 800), FibTrie("127.0.0.1", "10.244.2.9"), 800,
                "envoy", "0::/kubepods.slice/kubepods-pod11111111_2222_3333_4444_555555555555.slice/crio-" + new string('b', 64) + ".scope\n");
            File.CreateSymbolicLink(Path.Combine(root, "self"), "1");

            // No rate limit: every miss rereads the tree, so a miss below is a real "no such socket".
            var resolver = new SocketProcessResolver(root, minRefreshInterval: TimeSpan.Zero);
            Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("10.244.1.17"), 8080, out var nginx));
            Assert.Equal((200, "nginx", "nginx --flag", new string('a', 64), "containerd", "3d1c4b8e-5a6f-4c2d-9e8f-0a1b2c3d4e5f"),
                (nginx.Pid, nginx.Command, nginx.CommandLine, nginx.ContainerId, nginx.ContainerRuntime, nginx.PodUid));
            Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("10.244.2.9"), 8080, out var envoy));
            Assert.Equal((300, "cri-o"), (envoy.Pid, envoy.ContainerRuntime));
            // The node's own wildcard listener answers for any address on its port…
            Assert.True(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("192.168.10.11"), 22, out var sshd));
            Assert.Equal((1, "", ""), (sshd.Pid, sshd.ContainerId, sshd.PodUid));
            // …but a pod's wildcard listener does not leak to addresses outside its namespace.
            Assert.False(resolver.TryResolve(SocketProtocol.Tcp, NetAddress.Parse("10.244.3.3"), 8080, out _));
            Assert.Equal(0, resolver.Statistics.RateLimitedMisses);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
