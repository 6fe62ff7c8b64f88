using System.Buffers.Binary;
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
    private int _serverEndedStreams;

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
    /// Calls the server ended (its trailers, or a reset) in bytes it sent, counted before they are passed on or thrown
    /// away. Once it counts a call, that call's last response is past <see cref="HoldResponses"/>: holding responses from
    /// then on hits only calls that start later. (Waiting for the connection to go quiet for a while instead was a guess
    /// that a loaded machine could break: the trailers can come after any pause.)
    /// </summary>
    public int ServerEndedStreams => Volatile.Read(ref _serverEndedStreams);

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
        var frames = fromServer ? new Http2FrameScanner() : null;
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            while (true)
            {
                int n = await input.ReadAsync(buffer, _stop.Token);
                if (n == 0) break;
                bool hold = fromServer && HoldResponses;
                if (frames is not null) Interlocked.Add(ref _serverEndedStreams, frames.Scan(buffer.AsSpan(0, n)));
                if (hold) { Interlocked.Add(ref _discardedBytes, n); continue; }
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

    /// <summary>
    /// Follows the server's HTTP/2 frames across reads (the server side of a connection starts with its SETTINGS frame,
    /// no preface) and counts the frames that end a stream. RFC 9113 §4.1, the frame header:
    /// <code>
    /// +-----------------------------------------------+
    /// |                 Length (24)                   |
    /// +---------------+---------------+---------------+
    /// |   Type (8)    |   Flags (8)   |
    /// +-+-------------+---------------+-------------------------------+
    /// |R|                 Stream Identifier (31)                      |
    /// +=+=============================================================+
    /// |                   Frame Payload (0...)                      ...
    /// </code>
    /// A stream ends with END_STREAM (flag 0x1) on DATA (type 0) or HEADERS (type 1; gRPC's trailers), or with RST_STREAM (type 3).
    /// </summary>
    private sealed class Http2FrameScanner
    {
        private readonly byte[] _header = new byte[9];
        private int _headerBytes;
        private long _payloadLeft;

        public int Scan(ReadOnlySpan<byte> data)
        {
            int ended = 0;
            while (data.Length > 0)
            {
                if (_payloadLeft > 0)
                {
                    int skip = (int)Math.Min(_payloadLeft, data.Length);
                    _payloadLeft -= skip;
                    data = data[skip..];
                    continue;
                }
                int take = Math.Min(_header.Length - _headerBytes, data.Length);
                data[..take].CopyTo(_header.AsSpan(_headerBytes));
                _headerBytes += take;
                data = data[take..];
                if (_headerBytes < _header.Length) break;
                _headerBytes = 0;
                _payloadLeft = _header[0] << 16 | _header[1] << 8 | _header[2];
                byte type = _header[3], flags = _header[4];
                int stream = BinaryPrimitives.ReadInt32BigEndian(_header.AsSpan(5)) & 0x7fffffff;
                if (stream != 0 && ((type is 0 or 1 && (flags & 0x1) != 0) || type == 3)) ended++;
            }
            return ended;
        }
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
