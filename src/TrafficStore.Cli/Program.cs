using System.CommandLine;

namespace TrafficStore.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("TrafficStore: a traffic-history database for Kubernetes.");
        return root.Parse(args).Invoke();
    }
}
