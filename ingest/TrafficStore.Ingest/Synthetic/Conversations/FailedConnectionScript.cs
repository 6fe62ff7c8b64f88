using TrafficStore.Ingest.Synthetic.Wire;

namespace TrafficStore.Ingest.Synthetic.Conversations;

internal enum ConnectionFailure { Refused, Unanswered }

/// <summary>
/// A connection that never opens: either the server answers the SYN with RST-ACK (nothing
/// listens on the port, RFC 9293 3.10.7.1) or nobody answers and the client retransmits its SYN
/// after 1 s and then 2 s more (Linux's exponential SYN back-off).
/// </summary>
internal sealed class FailedConnectionScript : TcpConversationScript
{
    private readonly ConnectionFailure _failure;

    public FailedConnectionScript(ConversationEnvironment context, long startNs, SimulatedHost client, SimulatedHost server, ushort port, long rttNs, ConnectionFailure failure)
        : base(context, startNs, client, server, port, false, rttNs)
    {
        _failure = failure;
        PlannedBytes = 250;
    }

    public override long PlannedBytes { get; }

    protected override IEnumerable<int> Steps()
    {
        if (_failure == ConnectionFailure.Refused)
        {
            Emit(Client, TcpFlags.Syn, Now);
            yield return 0;
            Emit(Server, TcpFlags.Rst | TcpFlags.Ack, Now + Jitter(RttNs), seq: 0);
            yield return 0;
            yield break;
        }
        Emit(Client, TcpFlags.Syn, Now, delivered: false);
        yield return 0;
        long backoff = 1_000_000_000;
        for (int retry = 0; retry < 2; retry++)
        {
            Emit(Client, TcpFlags.Syn, Now + Jitter(backoff, 0.01), seq: Client.Isn, delivered: false);
            yield return 0;
            backoff *= 2;
        }
    }
}
