using System.Text.RegularExpressions;

namespace TrafficStore.Kubernetes.Process;

/// <summary>
/// Reads the container id (and pod UID) out of /proc/PID/cgroup. The runtimes name cgroups differently:
/// <code>
/// cgroupfs driver:  /kubepods/besteffort/pod&lt;uid&gt;/&lt;64 hex&gt;          (containerd, cri-o, docker)
///                   /docker/&lt;64 hex&gt;                                    (plain docker)
/// systemd driver:   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod&lt;uid_with_underscores&gt;.slice/cri-containerd-&lt;64 hex&gt;.scope
///                   .../crio-&lt;64 hex&gt;.scope   .../docker-&lt;64 hex&gt;.scope
/// </code>
/// The last matching line wins: on cgroup v2 there is one line ("0::/…"); on v1 all controllers agree.
/// </summary>
public static partial class CgroupContainer
{
    [GeneratedRegex(@"(?:(?<prefix>docker|cri-containerd|crio|containerd)-)?(?<id>[0-9a-f]{64})(?:\.scope)?(?:/|$)")]
    private static partial Regex ContainerIdPattern();

    [GeneratedRegex(@"pod(?<uid>[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")]
    private static partial Regex PodUidPattern();

    public static (string ContainerId, string Runtime, string PodUid) Parse(string cgroupFileText)
    {
        string id = "", runtime = "", podUid = "";
        foreach (var rawLine in cgroupFileText.Split('\n'))
        {
            // hierarchy-ID:controller-list:cgroup-path
            int second = rawLine.IndexOf(':', rawLine.IndexOf(':') + 1);
            if (second < 0) continue;
            string path = rawLine[(second + 1)..].Trim();

            var pod = PodUidPattern().Match(path);
            if (pod.Success) podUid = pod.Groups["uid"].Value.Replace('_', '-');

            var container = ContainerIdPattern().Match(path);
            if (!container.Success) continue;
            id = container.Groups["id"].Value;
            runtime = container.Groups["prefix"].Value switch
            {
                "docker" => "docker",
                "cri-containerd" or "containerd" => "containerd",
                "crio" => "cri-o",
                _ => path.Contains("/docker/", StringComparison.Ordinal) ? "docker" : "",
            };
        }
        return (id, runtime, podUid);
    }
}
