namespace TrafficStore.Engine.Tests;

/// <summary>
/// Entry point of the test assembly. The test host does not use it; the crash-safety test runs
/// <c>dotnet exec TrafficStore.Engine.Tests.dll crash-writer DIR SEED</c> to get a writer it can SIGKILL.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "crash-writer")
            return await CrashWriter.RunAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        if (args.Length == 3 && args[0] == "bulk-crash-writer")
            return await CrashWriter.RunBulkAsync(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        Console.Error.WriteLine("usage: TrafficStore.Engine.Tests crash-writer DIR SEED (run the tests with dotnet test)");
        return 2;
    }
}
