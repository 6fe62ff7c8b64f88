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
          store    store ingest vs inspect-only, bytes on disk vs pcap and zstd -19, query latency
                   vs store size (issue 5; see docs/benchmarks.md)
                   [--phases ingest,growth,queries] [--store DIR] [--repeat N] [--input FILE]... [--no-default-inputs]
                   [--checkpoints-gb 1,3,10] [--runs N] [--max-minutes M] [--data DIR] [--dir DIR]
                   [--markdown FILE]
          flight   Arrow Flight DoGet export throughput and query latency with 1 and 16 clients
                   on a store built by `store` (issue 6)
                   [--store DIR] [--tables T,...] [--repeat N] [--runs N] [--clients 1,16] [--markdown FILE]
                   [--streams 1,2,4: also fetch each table through GetFlightInfo's endpoints with N parallel clients]
        """;

    public static async Task<int> Main(string[] args)
    {
        // A benchmark run takes minutes and writes hundreds of MB: --help must never start one.
        if (args.Any(a => a is "--help" or "-h" or "-?" or "help") && args.FirstOrDefault() != "micro")
        {
            Console.WriteLine(Usage);
            return 0;
        }
        switch (args.FirstOrDefault())
        {
            case "ingest": return Ingest.IngestBenchmark.Run(args[1..]);
            case "micro": return Micro.MicroBenchmarks.Run(args[1..]);
            case "engine": return await Engine.EngineBenchmark.RunAsync(args[1..]);
            case "store": return await Store.StoreBenchmark.RunAsync(args[1..]);
            case "flight": return await Flight.FlightBenchmark.RunAsync(args[1..]);
        }
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
