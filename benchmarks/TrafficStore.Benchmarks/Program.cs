namespace TrafficStore.Benchmarks;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "engine": return await Engine.EngineBenchmark.RunAsync(args[1..]);
        }
        Console.Error.WriteLine("usage: TrafficStore.Benchmarks <benchmark> [options]   (benchmarks: engine)");
        return 2;
    }
}
