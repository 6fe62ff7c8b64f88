namespace TrafficStore.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: TrafficStore.Benchmarks <benchmark> [options]");
        return 2;
    }
}
