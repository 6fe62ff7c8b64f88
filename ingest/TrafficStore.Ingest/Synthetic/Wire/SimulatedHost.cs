using System.Net;

namespace TrafficStore.Ingest.Synthetic.Wire;

/// <summary>
/// One network identity in the synthetic capture: a MAC address and an IPv4 and/or IPv6 address.
/// Pods, service ClusterIPs, nodes and external hosts are all hosts to the frame builder.
/// </summary>
public sealed class SimulatedHost
{
    public string Name { get; }
    public byte[] Mac { get; }
    public byte[] Ipv4 { get; }
    public byte[]? Ipv6 { get; }

    public SimulatedHost(string name, byte[] mac, IPAddress ipv4, IPAddress? ipv6 = null)
    {
        Name = name;
        Mac = mac;
        Ipv4 = ipv4.GetAddressBytes();
        Ipv6 = ipv6?.GetAddressBytes();
    }

    public IPAddress Ipv4Address => new(Ipv4);
    public IPAddress? Ipv6Address => Ipv6 is null ? null : new IPAddress(Ipv6);

    public byte[] Address(bool ipv6) => ipv6 ? Ipv6 ?? throw new InvalidOperationException($"{Name} has no IPv6 address.") : Ipv4;

    public override string ToString() => $"{Name} {Ipv4Address}";
}
