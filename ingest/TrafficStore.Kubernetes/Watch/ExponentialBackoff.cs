namespace TrafficStore.Kubernetes.Watch;

/// <summary>Delays that double from <c>initial</c> up to <c>max</c>, with up to 20 % jitter so that many agents
/// restarted together do not reconnect to the API server in lockstep.</summary>
internal sealed class ExponentialBackoff
{
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private TimeSpan _next;

    public ExponentialBackoff(TimeSpan initial, TimeSpan max)
    {
        _initial = initial;
        _max = max;
        _next = initial;
    }

    public TimeSpan Next()
    {
        var delay = _next;
        _next = TimeSpan.FromTicks(Math.Min(_max.Ticks, _next.Ticks * 2));
        double jitter = 1.0 - Random.Shared.NextDouble() * 0.2;
        return TimeSpan.FromTicks((long)(delay.Ticks * jitter));
    }

    public void Reset() => _next = _initial;
}
