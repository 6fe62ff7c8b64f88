using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace TrafficStore.Kubernetes.Tests;

/// <summary>
/// deploy/ is code too: every manifest must load as typed Kubernetes objects (strict: an unknown or
/// misspelt field fails), reference only objects that exist, and wire the agent and the server together.
/// The Helm chart cannot be rendered here (no helm binary), so its templates are checked against values.yaml.
/// </summary>
public class DeployManifestTests
{
    private static readonly string RepoRoot = FindRepoRoot();
    private static readonly string KubernetesDir = Path.Combine(RepoRoot, "deploy", "kubernetes");
    private static readonly string ChartDir = Path.Combine(RepoRoot, "deploy", "helm", "trafficstore");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln"))) return dir.FullName;
        throw new InvalidOperationException("TrafficStore.sln not found above " + AppContext.BaseDirectory);
    }

    private static List<object> LoadAll()
    {
        var objects = new List<object>();
        foreach (var file in Directory.GetFiles(KubernetesDir, "*.yaml", SearchOption.AllDirectories).Order())
        {
            if (Path.GetFileName(file) == "kustomization.yaml") continue;
            var loaded = KubernetesYaml.LoadAllFromString(File.ReadAllText(file), strict: true);
            Assert.NotEmpty(loaded);
            objects.AddRange(loaded);
        }
        return objects;
    }

    private static IEnumerable<T> All<T>(List<object> objects) => objects.OfType<T>();

    [Fact]
    public void EveryManifestLoadsStrictlyAndKustomizationListsThemAll()
    {
        var objects = LoadAll();
        Assert.All(objects, o => Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(o));
        var kinds = objects.Cast<IKubernetesObject<V1ObjectMeta>>().Select(o => o.Kind).Order().ToArray();
        Assert.Equal(
            ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Namespace", "Secret", "Service", "Service",
             "ServiceAccount", "ServiceAccount", "StatefulSet"], kinds);

        var kustomization = new YamlStream();
        kustomization.Load(new StringReader(File.ReadAllText(Path.Combine(KubernetesDir, "kustomization.yaml"))));
        var root = (YamlMappingNode)kustomization.Documents[0].RootNode;
        var resources = ((YamlSequenceNode)root.Children[new YamlScalarNode("resources")]).Children
            .Select(n => ((YamlScalarNode)n).Value!).Order().ToArray();
        var files = Directory.GetFiles(KubernetesDir, "*.yaml").Select(Path.GetFileName)
            .Where(f => f != "kustomization.yaml").Order().ToArray();
        Assert.Equal(files, resources);

        foreach (var obj in objects.Cast<IKubernetesObject<V1ObjectMeta>>())
        {
            bool clusterScoped = obj is V1Namespace or V1ClusterRole or V1ClusterRoleBinding;
            Assert.Equal(clusterScoped ? null : "trafficstore", obj.Metadata.NamespaceProperty);
        }
    }

    [Fact]
    public void RbacGrantsReadAccessToEverythingIdentityResolutionWatches()
    {
        var objects = LoadAll();
        var role = Assert.Single(All<V1ClusterRole>(objects));
        (string Group, string Resource)[] needed =
        [
            ("", "pods"), ("", "services"), ("", "nodes"), ("discovery.k8s.io", "endpointslices"),
            ("apps", "replicasets"), ("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
            ("batch", "jobs"), ("batch", "cronjobs"),
        ];
        foreach (var (group, resource) in needed)
        {
            var rule = role.Rules.FirstOrDefault(r => r.ApiGroups.Contains(group) && r.Resources.Contains(resource));
            Assert.True(rule is not null, $"no rule for {group}/{resource}");
            Assert.Equal(["get", "list", "watch"], rule!.Verbs.Order());
        }

        var accounts = All<V1ServiceAccount>(objects).Select(a => a.Metadata.Name).ToHashSet();
        var binding = Assert.Single(All<V1ClusterRoleBinding>(objects));
        Assert.Equal(role.Metadata.Name, binding.RoleRef.Name);
        Assert.All(binding.Subjects, s => Assert.Contains(s.Name, accounts));
        Assert.Contains(Assert.Single(All<V1DaemonSet>(objects)).Spec.Template.Spec.ServiceAccountName, accounts);
        Assert.Contains(Assert.Single(All<V1StatefulSet>(objects)).Spec.Template.Spec.ServiceAccountName, accounts);
    }

    [Fact]
    public void AgentAndServerAreWiredTogether()
    {
        var objects = LoadAll();
        var agent = Assert.Single(All<V1DaemonSet>(objects));
        var server = Assert.Single(All<V1StatefulSet>(objects));
        var configMaps = All<V1ConfigMap>(objects).Select(c => c.Metadata.Name).ToHashSet();
        var secrets = All<V1Secret>(objects).Select(s => s.Metadata.Name).ToHashSet();

        // Agent: host network, capture capabilities, host /proc read-only, talks to the server Service.
        var agentPod = agent.Spec.Template.Spec;
        Assert.True(agentPod.HostNetwork);
        Assert.Equal("ClusterFirstWithHostNet", agentPod.DnsPolicy);
        var agentContainer = Assert.Single(agentPod.Containers);
        Assert.Equal(["trafficstore"], agentContainer.Command);
        Assert.Equal(["agent", "--server", "http://trafficstore:8815", "--interface", "any"], agentContainer.Args);
        Assert.Contains("NET_RAW", agentContainer.SecurityContext.Capabilities.Add);
        Assert.Contains("NET_ADMIN", agentContainer.SecurityContext.Capabilities.Add);
        var procVolume = Assert.Single(agentPod.Volumes, v => v.HostPath?.Path == "/proc");
        var procMount = Assert.Single(agentContainer.VolumeMounts, m => m.Name == procVolume.Name);
        Assert.True(procMount.ReadOnlyProperty);
        Assert.Equal(procMount.MountPath, agentContainer.Env.Single(e => e.Name == "TRAFFICSTORE_PROC_ROOT").Value);

        // Server: the store on a claim from the template, the Flight port behind the "trafficstore" Service.
        var serverContainer = Assert.Single(server.Spec.Template.Spec.Containers);
        Assert.Equal(["serve", "--store", "/data", "--listen", "0.0.0.0:8815", "--max-delivery-sources", "100000", "--delivery-mark-max-idle", "30d"], serverContainer.Args);
        var claim = Assert.Single(server.Spec.VolumeClaimTemplates);
        Assert.Equal("/data", serverContainer.VolumeMounts.Single(m => m.Name == claim.Metadata.Name).MountPath);
        Assert.True(server.Spec.Template.Spec.SecurityContext.RunAsNonRoot);
        Assert.Contains(server.Spec.ServiceName, All<V1Service>(objects).Select(s => s.Metadata.Name));

        var service = All<V1Service>(objects).Single(s => s.Metadata.Name == "trafficstore");
        var flight = Assert.Single(service.Spec.Ports);
        Assert.Equal(8815, flight.Port);
        Assert.Contains(serverContainer.Ports, p => p.Name == flight.TargetPort.Value && p.ContainerPort == 8815);
        foreach (var (key, value) in service.Spec.Selector)
        {
            Assert.Equal(value, server.Spec.Template.Metadata.Labels[key]);
            Assert.Equal(value, server.Spec.Selector.MatchLabels[key]);
        }
        foreach (var (key, value) in agent.Spec.Selector.MatchLabels)
            Assert.Equal(value, agent.Spec.Template.Metadata.Labels[key]);

        foreach (var container in new[] { agentContainer, serverContainer })
        {
            foreach (var source in container.EnvFrom)
            {
                if (source.ConfigMapRef is { } cm) Assert.Contains(cm.Name, configMaps);
                if (source.SecretRef is { } secret) Assert.Contains(secret.Name, secrets);
            }
        }
    }

    private static YamlMappingNode LoadValues()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(ChartDir, "values.yaml"))));
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static bool HasPath(YamlMappingNode root, string dottedPath)
    {
        YamlNode node = root;
        foreach (var part in dottedPath.Split('.'))
        {
            if (node is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(part), out var child)) return false;
            node = child;
        }
        return true;
    }

    [Fact]
    public void HelmTemplatesReferenceOnlyDefinedValuesAndTemplates()
    {
        var chart = new YamlStream();
        chart.Load(new StringReader(File.ReadAllText(Path.Combine(ChartDir, "Chart.yaml"))));
        var chartRoot = (YamlMappingNode)chart.Documents[0].RootNode;
        Assert.Equal("v2", chartRoot.Children[new YamlScalarNode("apiVersion")].ToString());
        Assert.Equal("trafficstore", chartRoot.Children[new YamlScalarNode("name")].ToString());

        var values = LoadValues();
        var templates = Directory.GetFiles(Path.Combine(ChartDir, "templates"));
        var defined = new HashSet<string>();
        foreach (var file in templates)
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"\{\{-?\s*define\s+""([^""]+)"""))
                defined.Add(m.Groups[1].Value);

        int references = 0;
        foreach (var file in templates)
        {
            string text = File.ReadAllText(file);
            foreach (Match m in Regex.Matches(text, @"\.Values\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)"))
            {
                references++;
                Assert.True(HasPath(values, m.Groups[1].Value), $"{Path.GetFileName(file)}: .Values.{m.Groups[1].Value} is not in values.yaml");
            }
            foreach (Match m in Regex.Matches(text, @"include\s+""([^""]+)"""))
                Assert.True(defined.Contains(m.Groups[1].Value), $"{Path.GetFileName(file)}: template {m.Groups[1].Value} is not defined");
            // Every action is closed on the line it opens on (a lost "}}" breaks rendering).
            foreach (var line in text.Split('\n'))
                Assert.Equal(Regex.Matches(line, @"\{\{").Count, Regex.Matches(line, @"\}\}").Count);
        }
        Assert.True(references > 20, $"only {references} value references found");
    }

    [Fact]
    public void HelmTemplatesCoverTheSameKindsAsTheKustomizeManifests()
    {
        var helmKinds = Directory.GetFiles(Path.Combine(ChartDir, "templates"), "*.yaml")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), @"^kind:\s*(\w+)", RegexOptions.Multiline))
            .Select(m => m.Groups[1].Value).Order().ToArray();
        var kustomizeKinds = LoadAll().Cast<IKubernetesObject<V1ObjectMeta>>()
            .Where(o => o is not V1Namespace)   // Helm installs into the release namespace (--create-namespace)
            .Select(o => o.Kind).Order().ToArray();
        Assert.Equal(kustomizeKinds, helmKinds);
    }

    [Fact]
    public void DockerfileCopiesAndPublishesPathsThatExist()
    {
        // No Docker daemon here to build the image: at least every path it copies from the build
        // context and every project it builds must exist, so a moved project fails here.
        var lines = File.ReadAllLines(Path.Combine(RepoRoot, "deploy", "Dockerfile"));
        int copies = 0;
        foreach (var line in lines.Select(l => l.Trim()))
        {
            if (line.StartsWith("COPY ", StringComparison.Ordinal) && !line.Contains("--from=", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                foreach (var source in parts[1..^1])
                {
                    copies++;
                    string path = Path.Combine(RepoRoot, source.TrimEnd('/'));
                    Assert.True(File.Exists(path) || Directory.Exists(path), $"Dockerfile copies missing {source}");
                }
            }
            foreach (Match m in Regex.Matches(line, @"dotnet (?:restore|publish) (\S+\.csproj)"))
                Assert.True(File.Exists(Path.Combine(RepoRoot, m.Groups[1].Value)), $"Dockerfile builds missing {m.Groups[1].Value}");
        }
        Assert.True(copies >= 4);
        Assert.Contains(lines, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ENTRYPOINT [\"trafficstore\"]", StringComparison.Ordinal));
    }
}
