using TrafficStore.Ingest.Synthetic.Payloads;
using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

internal enum TlsOutcome { Tls13, Tls12, HandshakeFailure }

/// <summary>
/// A TLS connection: ClientHello, the server's flight for TLS 1.3 or 1.2 (with a real X.509
/// certificate for 1.2), the client's finish, then opaque application-data exchanges. For
/// <see cref="TlsOutcome.HandshakeFailure"/> the server answers the ClientHello with a fatal
/// handshake_failure alert and closes.
/// </summary>
internal sealed class TlsConversationScript : TcpConversationScript
{
    private readonly string _serverName;
    private readonly TlsOutcome _outcome;
    private readonly int[] _responseSizes;

    public TlsConversationScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port,
        bool ipv6, long rttNs, string serverName, TlsOutcome outcome, int[] responseSizes)
        : base(context, startNs, client, server, port, ipv6, rttNs)
    {
        _serverName = serverName;
        _outcome = outcome;
        _responseSizes = responseSizes;
        PlannedBytes = 5000 + responseSizes.Sum(s => s + 600L);
        context.Summary.TlsConnections++;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        foreach (int step in Handshake()) yield return step;
        string[] alpn = _outcome == TlsOutcome.Tls12 ? new[] { "http/1.1" } : new[] { "h2", "http/1.1" };
        // The TLS 1.2 conversations come from an older client library that offers only 1.2.
        byte[] hello = TlsMessageWriter.ClientHello(Rng, _serverName, alpn, offerTls13: _outcome != TlsOutcome.Tls12);
        foreach (int step in Transfer(Client, hello, ackLast: false)) yield return step;
        Now += Jitter(RttNs) + Jitter(600_000, 0.5);

        switch (_outcome)
        {
            case TlsOutcome.HandshakeFailure:
                foreach (int step in Transfer(Server, TlsMessageWriter.AlertRecord(2, 40))) yield return step;
                foreach (int step in Close(clientFirst: false)) yield return step;
                yield break;
            case TlsOutcome.Tls13:
                foreach (int step in Transfer(Server, TlsMessageWriter.ServerFlightTls13(Rng, 0x1301, 2400 + Rng.Next(1200)), ackLast: false)) yield return step;
                Now += Jitter(300_000);
                foreach (int step in Transfer(Client, Concat(TlsMessageWriter.ClientFinishTls13(Rng), TlsMessageWriter.ApplicationRecords(Rng, 180 + Rng.Next(300))), ackLast: false)) yield return step;
                break;
            default:
                foreach (int step in Transfer(Server, TlsMessageWriter.ServerFlightTls12(Rng, 0xC02F, "http/1.1", Context.Payloads.CertificateDer), ackLast: false)) yield return step;
                Now += Jitter(500_000);
                foreach (int step in Transfer(Client, TlsMessageWriter.ClientFinishTls12(Rng), ackLast: false)) yield return step;
                Now += Jitter(RttNs) + Jitter(200_000);
                foreach (int step in Transfer(Server, TlsMessageWriter.ServerFinishTls12(Rng), ackLast: false)) yield return step;
                Now += Jitter(100_000);
                foreach (int step in Transfer(Client, TlsMessageWriter.ApplicationRecords(Rng, 180 + Rng.Next(300)), ackLast: false)) yield return step;
                break;
        }

        for (int i = 0; i < _responseSizes.Length; i++)
        {
            if (i > 0)
            {
                Now += Jitter(30_000_000, 0.5);
                foreach (int step in Transfer(Client, TlsMessageWriter.ApplicationRecords(Rng, 150 + Rng.Next(400)), ackLast: false)) yield return step;
            }
            Now += Jitter(RttNs) + Jitter(3_000_000, 0.5);
            foreach (int step in Transfer(Server, TlsMessageWriter.ApplicationRecords(Rng, _responseSizes[i]))) yield return step;
        }
        // close_notify goes out encrypted: a 24-byte alert record looks like any other.
        foreach (int step in Close()) yield return step;
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        var c = new byte[a.Length + b.Length];
        a.CopyTo(c, 0);
        b.CopyTo(c, a.Length);
        return c;
    }
}
