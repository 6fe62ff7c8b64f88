namespace TrafficStore.Kubernetes.Identity;

/// <summary>Where the two ends of a connection sit relative to each other.</summary>
public enum Locality : byte
{
    /// <summary>At least one end has no node (unknown address, or a ClusterIP seen before DNAT).</summary>
    Unknown = 0,
    SameNode = 1,
    /// <summary>Different nodes in the same zone (or zones not labelled).</summary>
    CrossNode = 2,
    /// <summary>Different nodes in different, labelled zones: traffic that is usually billed.</summary>
    CrossZone = 3,
}

public static class LocalityClassifier
{
    public static Locality Classify(EndpointIdentity a, EndpointIdentity b)
    {
        if (a.Node.Length == 0 || b.Node.Length == 0) return Locality.Unknown;
        if (string.Equals(a.Node, b.Node, StringComparison.Ordinal)) return Locality.SameNode;
        if (a.Zone.Length != 0 && b.Zone.Length != 0 && !string.Equals(a.Zone, b.Zone, StringComparison.Ordinal))
            return Locality.CrossZone;
        return Locality.CrossNode;
    }

    public static bool IsCrossNode(EndpointIdentity a, EndpointIdentity b) => Classify(a, b) is Locality.CrossNode or Locality.CrossZone;

    public static bool IsCrossZone(EndpointIdentity a, EndpointIdentity b) => Classify(a, b) == Locality.CrossZone;
}
