using System.Text.RegularExpressions;

namespace TrafficStore.Cli.Tests.Serve;

/// <summary>
/// The plain manifests under deploy/kubernetes run `trafficstore serve` and `trafficstore agent` with fixed args:
/// every flag there must be one the command takes (a renamed flag would crash-loop the pods).
/// </summary>
public partial class DeployArgsTests
{
    [GeneratedRegex(@"^\s*args:\s*\[(?<list>[^\]]*)\]", RegexOptions.Multiline)]
    private static partial Regex ArgsList();

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex Quoted();

    [Theory]
    [InlineData("server.yaml", "serve")]
    [InlineData("agent.yaml", "agent")]
    public void ManifestArgsParseWithoutErrors(string manifest, string command)
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot(), "deploy", "kubernetes", manifest));
        var args = Quoted().Matches(ArgsList().Match(text).Groups["list"].Value).Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(command, args[0]);
        var parse = CliApp.Build(TextWriter.Null, TextWriter.Null, stderrIsTerminal: false).Parse(args);
        Assert.Empty(parse.Errors.Select(e => e.Message));
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("TrafficStore.sln above " + AppContext.BaseDirectory);
    }
}
