using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http1;
using TrafficStore.Ingest.Tests.Protocols.Http;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

/// <summary>Runs a conversation through <see cref="Http1Protocol"/> with the split-invariance check.</summary>
internal static class Http1TestParser
{
    public static List<HttpExchange> Parse(Conversation c, Http1Options? options = null, Func<FlowContext, IStreamParser>? h2c = null) =>
        StreamSplitHarness.Run<HttpExchange>(sink => new Http1Protocol(sink, options, h2c).CreateParser(HttpRows.Flow), c.Steps, HttpRows.Describe);
}
