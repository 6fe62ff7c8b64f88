namespace TrafficStore.Server.Security;

/// <summary>What a bearer token may do. Scopes are the closed set in <see cref="Scopes"/>.</summary>
public sealed record AccessToken(string Name, IReadOnlyList<string>? Namespaces, IReadOnlySet<string> Scopes)
{
    /// <summary>True when the token sees every namespace (no row filter is added).</summary>
    public bool AllNamespaces => Namespaces is null;

    public bool Has(string scope) => Scopes.Contains(scope);
}

/// <summary>The scopes a token can hold.</summary>
public static class Scopes
{
    /// <summary>ListFlights, GetFlightInfo, GetSchema, DoGet, stats, health, export.pcap.</summary>
    public const string Read = "read";
    /// <summary>DoPut (node agents).</summary>
    public const string Write = "write";
    /// <summary>retention.set / retention.apply.</summary>
    public const string Admin = "admin";
    /// <summary>Unredacted payload bodies and sensitive header values (payload.get, payloads table).</summary>
    public const string PayloadsRead = "payloads:read";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Read, Write, Admin, PayloadsRead };
}
