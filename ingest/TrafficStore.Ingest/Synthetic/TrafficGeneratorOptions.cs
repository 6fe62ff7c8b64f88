namespace TrafficStore.Ingest.Synthetic;

/// <summary>Relative weights of the conversation kinds in the random part of a generation.</summary>
/// <param name="Http">HTTP/1.1 keep-alive API calls (JSON, gzip, chunked, errors).</param>
/// <param name="Downloads">HTTP/1.1 static-asset downloads (64 KiB to 1.5 MiB): most of the bytes.</param>
/// <param name="Grpc">gRPC over cleartext HTTP/2.</param>
/// <param name="Dns">DNS lookups over UDP.</param>
/// <param name="Tls">TLS 1.3 / 1.2 connections.</param>
public sealed record TrafficMix(double Http = 30, double Downloads = 10, double Grpc = 20, double Dns = 30, double Tls = 10)
{
    public static TrafficMix Default { get; } = new();

    internal double Total => Http + Downloads + Grpc + Dns + Tls;
}

/// <summary>
/// What to generate. With neither <see cref="TargetBytes"/> nor <see cref="ConnectionCount"/> a
/// small demo is made (a few MB). Everything but the TLS certificate's bytes follows from
/// <see cref="Seed"/>; pass <see cref="CertificateDer"/> to make even those fixed.
/// </summary>
public sealed record TrafficGeneratorOptions
{
    public int Seed { get; init; } = 1;

    /// <summary>Capture start (UTC).</summary>
    public DateTimeOffset StartTime { get; init; } = new(2026, 1, 15, 9, 0, 0, TimeSpan.Zero);

    /// <summary>Capture time the traffic is spread over; the long-lived connection spans all of it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Approximate size of the capture in bytes (conversations keep starting until reached).</summary>
    public long? TargetBytes { get; init; }

    /// <summary>Number of random conversations (besides the fixed feature tour).</summary>
    public int? ConnectionCount { get; init; }

    public TrafficMix Mix { get; init; } = TrafficMix.Default;

    /// <summary>
    /// Include the fixed "tour": one conversation for each feature (gzip, chunked, every error
    /// status, the card-number POST, gRPC errors, each DNS answer kind, DNS over TCP, TLS 1.2/1.3
    /// and a handshake failure, and each kind of TCP trouble plus the long-lived connection).
    /// </summary>
    public bool IncludeFeatureTour { get; init; } = true;

    /// <summary>Share of random conversations carried over IPv6 (the cluster is dual-stack).</summary>
    public double Ipv6Fraction { get; init; } = 0.1;

    /// <summary>DER certificate for TLS 1.2 servers; null makes a fresh self-signed one per generator.</summary>
    public byte[]? CertificateDer { get; init; }

    /// <summary>The default demo: about 4 MB over 10 minutes, few large downloads so that many conversations fit.</summary>
    public static TrafficGeneratorOptions Demo { get; } = new() { TargetBytes = 4_000_000, Mix = new TrafficMix(Downloads: 0.3) };

    internal void Validate()
    {
        if (Duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Duration), "Duration must be positive.");
        if (TargetBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(TargetBytes), "TargetBytes must be positive.");
        if (ConnectionCount is < 0) throw new ArgumentOutOfRangeException(nameof(ConnectionCount), "ConnectionCount must not be negative.");
        if (Mix.Total <= 0) throw new ArgumentOutOfRangeException(nameof(Mix), "At least one mix weight must be positive.");
        if (Ipv6Fraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(Ipv6Fraction));
        if (StartTime.ToUnixTimeMilliseconds() < 0) throw new ArgumentOutOfRangeException(nameof(StartTime), "StartTime must be after 1970.");
    }
}
