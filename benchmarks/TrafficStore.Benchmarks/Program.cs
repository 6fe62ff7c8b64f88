namespace TrafficStore.Benchmarks;

public static class Program
{
    private const string Usage = """
        usage: TrafficStore.Benchmarks <benchmark> [options]

          ingest   whole-pipeline throughput on a >= 300 MB capture, stage by stage, with tshark
                   on the same file in the same run (see docs/benchmarks.md)
                   [--input FILE]... [--corpus] [--synthetic] [--size-mb N] [--data DIR]
                   [--repeat N] [--stages read,decode,analysis,l7,tshark]
                   [--no-tshark] [--no-l7] [--buffer-kb N] [--markdown FILE]
          micro    BenchmarkDotNet micro-benchmarks of the decoder and the TCP analyzer
                   (any BenchmarkDotNet arguments, e.g. --filter '*Decode*')
          engine   storage engine write and query benchmark
                   [--rows N] [--batch N] [--writers N] [--dir PATH]
        """;

    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "ingest": return Ingest.IngestBenchmark.Run(args[1..]);
            case "micro": return Micro.MicroBenchmarks.Run(args[1..]);
            case "engine": return await Engine.EngineBenchmark.RunAsync(args[1..]);
        }
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
