namespace TrafficStore.Ingest.Protocols.Http;

public sealed record RetryOptions
{
    public static RetryOptions Default { get; } = new();

    /// <summary>Same client IP sending the same method+host+uri again within this window is a retry.</summary>
    public TimeSpan ClientWindow { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Window for repeats on the same connection; null = any earlier identical request on the connection.</summary>
    public TimeSpan? ConnectionWindow { get; init; }

    /// <summary>Requests remembered in all; beyond it the oldest client-window entries are forgotten.</summary>
    public int MaxTracked { get; init; } = 100_000;
}

/// <summary>
/// Flags retries: a request whose method, host and target repeat an earlier one on the same
/// connection, or from the same client IP within <see cref="RetryOptions.ClientWindow"/>.
/// Stateful; the pipeline feeds it every exchange (HTTP/1.x and HTTP/2) in request-time order.
/// </summary>
public sealed class RetryDetector
{
    private readonly record struct ClientKey(string ClientIp, string Method, string Host, string Uri);
    private readonly record struct ConnectionKey(string Method, string Host, string Uri);

    private readonly RetryOptions _options;
    private readonly Dictionary<ClientKey, long> _byClient = new();
    private readonly Dictionary<long, Dictionary<ConnectionKey, long>> _byConnection = new();
    private int _connectionEntries;

    public RetryDetector(RetryOptions? options = null) => _options = options ?? RetryOptions.Default;

    /// <summary>Sets <see cref="HttpExchange.Retry"/> and returns it. Exchanges without a request half are never retries.</summary>
    public bool Observe(HttpExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        if (exchange.Method is null || exchange.Uri is null) return exchange.Retry = false;
        long now = exchange.RequestFirstByteNs ?? exchange.RequestTimestampNs ?? 0;
        string host = exchange.Host ?? "";
        bool retry = false;

        var ck = new ClientKey(exchange.ClientIp, exchange.Method, host, exchange.Uri);
        if (_byClient.TryGetValue(ck, out long lastByClient) && now - lastByClient <= _options.ClientWindow.Ticks * 100 && now >= lastByClient) retry = true;
        _byClient[ck] = now;

        if (!_byConnection.TryGetValue(exchange.ConnectionId, out var onConnection))
        {
            onConnection = new Dictionary<ConnectionKey, long>();
            _byConnection[exchange.ConnectionId] = onConnection;
        }
        var key = new ConnectionKey(exchange.Method, host, exchange.Uri);
        if (onConnection.TryGetValue(key, out long lastOnConnection)
            && (_options.ConnectionWindow is not { } w || now - lastOnConnection <= w.Ticks * 100)) retry = true;
        if (!onConnection.ContainsKey(key)) _connectionEntries++;
        onConnection[key] = now;

        if (_byClient.Count + _connectionEntries > _options.MaxTracked) Prune(now);
        return exchange.Retry = retry;
    }

    /// <summary>Forget a closed connection's requests.</summary>
    public void ForgetConnection(long connectionId)
    {
        if (_byConnection.Remove(connectionId, out var d)) _connectionEntries -= d.Count;
    }

    private void Prune(long now)
    {
        long horizon = now - _options.ClientWindow.Ticks * 100;
        foreach (var (k, t) in _byClient.ToList())
        {
            if (t < horizon) _byClient.Remove(k);
        }
        // still too many: drop whole connections, oldest activity first, until under half the budget
        if (_byClient.Count + _connectionEntries > _options.MaxTracked)
        {
            foreach (var (id, d) in _byConnection.OrderBy(p => p.Value.Values.Max()).ToList())
            {
                if (_byClient.Count + _connectionEntries <= _options.MaxTracked / 2) break;
                ForgetConnection(id);
            }
        }
        // a burst of distinct requests inside one window: forget the client window rather than grow
        if (_byClient.Count + _connectionEntries > _options.MaxTracked) _byClient.Clear();
    }
}
