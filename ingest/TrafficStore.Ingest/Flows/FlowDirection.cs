namespace TrafficStore.Ingest.Flows;

/// <summary>Direction of a packet or byte stream relative to the connection's client.</summary>
public enum FlowDirection : byte
{
    ClientToServer = 0,
    ServerToClient = 1,
}

public static class FlowDirectionExtensions
{
    public static FlowDirection Reverse(this FlowDirection d) => (FlowDirection)(1 - (int)d);
    public static string ToShortName(this FlowDirection d) => d == FlowDirection.ClientToServer ? "c2s" : "s2c";
}
