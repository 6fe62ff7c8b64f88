using System.Net;
using System.Net.Sockets;

namespace TrafficStore.Agent.Tests.Support;

/// <summary>
/// A TCP proxy between the agent and the Flight server that can lose the server's answers: while
/// <see cref="HoldResponses"/> is set, bytes from the server are read and thrown away (the agent's batches still
/// reach the server, which stores them and answers with PutResults nobody receives); <see cref="DropConnections"/>
/// then cuts every connection, as a network failure would, so the agent reconnects and resends.
/// </summary>
public sealed class AckLosingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Uri _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;
    private long _discardedBytes;
    private long _lastTrafficTicks = Environment.TickCount64;

    public AckLosingProxy(Uri target)
    {
        _target = target;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = Task.Run(AcceptAsync);
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    /// <summary>While true, the server's bytes (PutResults among them) never reach the agent.</summary>
    public volatile bool HoldResponses;

    /// <summary>When set, every connection is cut once the server sent this many bytes on it (a link that keeps failing).</summary>
    public long? DropAfterServerBytes { get; set; }

    /// <summary>Connections cut by <see cref="DropAfterServerBytes"/>.</summary>
    public int BytesDrops => Volatile.Read(ref _bytesDrops);
    private int _bytesDrops;

    /// <summary>Bytes of the server thrown away while <see cref="HoldResponses"/> was set.</summary>
    public long DiscardedBytes => Interlocked.Read(ref _discardedBytes);

    /// <summary>
    /// Waits until no byte passed either way for <paramref name="quiet"/>: the calls in flight are over (their last
    /// responses reached the agent), so holding responses from now on hits only calls that start later.
    /// </summary>
    public async Task WaitQuietAsync(TimeSpan quiet, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Environment.TickCount64 - Interlocked.Read(ref _lastTrafficTicks) < quiet.TotalMilliseconds)
        {
            if (Environment.TickCount64 > deadline) throw new TimeoutException("the proxy's connections never went quiet");
            await Task.Delay(20);
        }
    }

    /// <summary>Closes every open connection (both sides).</summary>
    public void DropConnections()
    {
        lock (_connections)
        {
            foreach (var c in _connections) c.Dispose();
            _connections.Clear();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient agent;
            try { agent = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            var server = new TcpClient();
            try { await server.ConnectAsync(_target.Host, _target.Port, _stop.Token); }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                agent.Dispose();        // the server is down: the agent sees a dropped connection
                server.Dispose();
                continue;
            }
            lock (_connections) { _connections.Add(agent); _connections.Add(server); }
            _ = PumpAsync(agent, server, fromServer: false);
            _ = PumpAsync(server, agent, fromServer: true);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, bool fromServer)
    {
        var buffer = new byte[64 << 10];
        long forwarded = 0;
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            while (true)
            {
                int n = await input.ReadAsync(buffer, _stop.Token);
                if (n == 0) break;
                Interlocked.Exchange(ref _lastTrafficTicks, Environment.TickCount64);
                if (fromServer && HoldResponses) { Interlocked.Add(ref _discardedBytes, n); continue; }
                await output.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
                forwarded += n;
                if (fromServer && forwarded >= DropAfterServerBytes)
                {
                    Interlocked.Increment(ref _bytesDrops);
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException) { }
        from.Dispose();
        to.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        DropConnections();
        try { await _accepting; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
