using System.Net;
using System.Text;

namespace TrafficStore.Agent.Observability;

/// <summary>
/// A small HTTP endpoint (HttpListener) serving <c>/metrics</c> (Prometheus text) and <c>/healthz</c>
/// for a <see cref="NodeAgent"/>. Listen on 127.0.0.1 (or the pod IP) only: it has no authentication.
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly NodeAgent _agent;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    /// <param name="listen">host:port, e.g. 127.0.0.1:9102.</param>
    public MetricsEndpoint(NodeAgent agent, string listen)
    {
        _agent = agent ?? throw new ArgumentNullException(nameof(agent));
        ArgumentException.ThrowIfNullOrEmpty(listen);
        Prefix = $"http://{listen.TrimEnd('/')}/";
        _listener.Prefixes.Add(Prefix);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Prefix { get; }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try
            {
                var (status, body, type) = context.Request.Url?.AbsolutePath switch
                {
                    "/metrics" => (HttpStatusCode.OK, AgentMetrics.Render(_agent), "text/plain; version=0.0.4; charset=utf-8"),
                    "/healthz" => Health(),
                    _ => (HttpStatusCode.NotFound, "not found: try /metrics or /healthz\n", "text/plain; charset=utf-8"),
                };
                var bytes = Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = (int)status;
                context.Response.ContentType = type;
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The scraper went away mid-response; nothing to do for it.
            }
        }
    }

    private (HttpStatusCode, string, string) Health()
    {
        var (status, body) = AgentMetrics.Health(_agent);
        return (status, body, "text/plain; charset=utf-8");
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        try { await _loop.ConfigureAwait(false); } catch (ObjectDisposedException) { }
        _stop.Dispose();
    }
}
