namespace TrafficStore.Ingest.Synthetic.Conversations;

/// <summary>What every script shares: the random source, the cluster, payload templates and counters.</summary>
internal sealed class ConversationEnvironment
{
    public ConversationEnvironment(Random random, Cluster.ClusterTopology topology, Payloads.PayloadLibrary payloads, GenerationSummary summary)
    {
        Random = random;
        Topology = topology;
        Payloads = payloads;
        Summary = summary;
    }

    public Random Random { get; }
    public Cluster.ClusterTopology Topology { get; }
    public Payloads.PayloadLibrary Payloads { get; }
    public GenerationSummary Summary { get; }
}
