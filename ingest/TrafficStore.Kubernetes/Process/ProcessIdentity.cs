namespace TrafficStore.Kubernetes.Process;

/// <summary>The process that owns a socket on this node, and the container it runs in.</summary>
/// <param name="Pid">Process id (in the PID namespace of the /proc that was read).</param>
/// <param name="Command">/proc/PID/comm: the kernel's task name, at most 15 characters.</param>
/// <param name="CommandLine">/proc/PID/cmdline with its NUL separators turned into spaces.</param>
/// <param name="ContainerId">64-hex container id from /proc/PID/cgroup, or "" outside containers.</param>
/// <param name="ContainerRuntime">"docker", "containerd", "cri-o", or "" when not known.</param>
/// <param name="PodUid">The pod UID from a kubepods cgroup path, or "".</param>
public sealed record ProcessIdentity(int Pid, string Command, string CommandLine, string ContainerId,
    string ContainerRuntime, string PodUid);

/// <summary>Transport protocols whose /proc/net tables are read.</summary>
public enum SocketProtocol : byte
{
    Tcp = 6,
    Udp = 17,
}
