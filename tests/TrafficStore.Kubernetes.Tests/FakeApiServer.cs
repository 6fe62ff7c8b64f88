using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TrafficStore.Kubernetes.Tests;

/// <summary>
/// A Kubernetes API server stand-in on 127.0.0.1: answers list requests with JSON and watch requests
/// (?watch=true) with a chunked stream of JSON lines, following a script per resource path.
/// Watches with no script left stay open (idle) until the server is disposed.
/// </summary>
internal sealed class FakeApiServer : IAsyncDisposable
{
    public abstract record Step;
    /// <summary>Writes one watch event line.</summary>
    public sealed record Line(string Json) : Step;
    /// <summary>Ends the response cleanly (the server's watch timeout).</summary>
    public sealed record End : Step;
    /// <summary>Cuts the connection mid-stream.</summary>
    public sealed record Drop : Step;
    /// <summary>Answers the watch request itself with an HTTP status and a Status body.</summary>
    public sealed record HttpStatus(int Code) : Step;

    private sealed class Resource
    {
        public Func<string?, string> List = _ => "{}";
        public readonly ConcurrentQueue<Step[]> Watches = new();
        public int ListCount;
        public readonly ConcurrentQueue<string?> WatchVersions = new();
    }

    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, Resource> _resources = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public FakeApiServer()
    {
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            try
            {
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                _listener.Start();
                Url = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException) when (attempt < 5) { }
        }
        _loop = Task.Run(AcceptLoop);
    }

    public string Url { get; } = "";

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private Resource For(string path) => _resources.GetOrAdd(path, _ => new Resource());

    public void SetList(string path, Func<string> list) => For(path).List = _ => list();
    /// <summary>A paged list: the function gets the request's continue token (null for the first page).</summary>
    public void SetPagedList(string path, Func<string?, string> list) => For(path).List = list;
    public void EnqueueWatch(string path, params Step[] steps) => For(path).Watches.Enqueue(steps);
    public int ListCount(string path) => Volatile.Read(ref For(path).ListCount);
    public string?[] WatchVersions(string path) => For(path).WatchVersions.ToArray();

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            catch (ObjectDisposedException) { return; }
            _ = Task.Run(() => Serve(context));
        }
    }

    private async Task Serve(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            string path = context.Request.Url!.AbsolutePath;
            if (!_resources.TryGetValue(path, out var resource))
            {
                response.StatusCode = 404;
                await Write(response, """{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}""");
                response.Close();
                return;
            }
            response.ContentType = "application/json";
            if (context.Request.QueryString["watch"] != "true")
            {
                Interlocked.Increment(ref resource.ListCount);
                await Write(response, resource.List(context.Request.QueryString["continue"]));
                response.Close();
                return;
            }

            resource.WatchVersions.Enqueue(context.Request.QueryString["resourceVersion"]);
            if (!resource.Watches.TryDequeue(out var steps)) steps = [];
            if (steps is [HttpStatus status, ..])
            {
                response.StatusCode = status.Code;
                await Write(response, $$"""{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":{{status.Code}}}""");
                response.Close();
                return;
            }
            response.SendChunked = true;
            await response.OutputStream.FlushAsync();
            foreach (var step in steps)
            {
                switch (step)
                {
                    case Line line:
                        await Write(response, line.Json + "\n");
                        await response.OutputStream.FlushAsync();
                        break;
                    case End:
                        response.Close();
                        return;
                    case Drop:
                        response.Abort();
                        return;
                }
            }
            // Script exhausted: an idle watch that stays open.
            try { await Task.Delay(Timeout.Infinite, _stop.Token); } catch (OperationCanceledException) { }
            response.Abort();
        }
        catch (Exception) when (_stop.IsCancellationRequested) { }
        catch (HttpListenerException) { }   // the client went away
        catch (IOException) { }
    }

    private static async Task Write(HttpListenerResponse response, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        await response.OutputStream.WriteAsync(bytes);
    }

    public static string Event(string type, System.Text.Json.Nodes.JsonObject obj) =>
        new System.Text.Json.Nodes.JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString();

    public static string GoneEvent() =>
        """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 100 (150)","reason":"Expired","code":410}}""";

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _listener.Close();
        try { await _loop.WaitAsync(TimeSpan.FromSeconds(2)); } catch (Exception) { }
        _stop.Dispose();
    }
}
