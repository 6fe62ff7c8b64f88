using Grpc.Core;
using Microsoft.Extensions.Logging;
using TrafficStore.Server.Observability;

namespace TrafficStore.Server.Security;

/// <summary>
/// Checks the bearer token of every Flight call. A missing or unknown token is
/// <see cref="StatusCode.Unauthenticated"/>; a token without the needed scope is
/// <see cref="StatusCode.PermissionDenied"/>. Every denial is logged and counted.
/// </summary>
public sealed class CallAuthorizer
{
    private readonly TokenFile _tokens;
    private readonly ServerMetrics _metrics;
    private readonly ILogger _log;

    public CallAuthorizer(TokenFile tokens, ServerMetrics metrics, ILogger<CallAuthorizer> log)
    {
        _tokens = tokens;
        _metrics = metrics;
        _log = log;
    }

    /// <summary>The token of the call if it holds <paramref name="scope"/>; throws the denial otherwise.</summary>
    public AccessToken Require(ServerCallContext context, string scope)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        const string prefix = "Bearer ";
        if (header is null || !header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            throw Deny(context, StatusCode.Unauthenticated, "missing bearer token (send 'Authorization: Bearer <token>')", null);
        var token = _tokens.Find(header[prefix.Length..].Trim());
        if (token is null)
            throw Deny(context, StatusCode.Unauthenticated, "unknown bearer token", null);
        if (!token.Has(scope))
            throw Deny(context, StatusCode.PermissionDenied, $"token '{token.Name}' lacks the '{scope}' scope", token);
        return token;
    }

    /// <summary>Logs and counts a denial decided elsewhere (e.g. a namespace outside the token's list).</summary>
    public RpcException Deny(ServerCallContext context, StatusCode code, string reason, AccessToken? token)
    {
        _metrics.DeniedCalls(context.Method, code);
        _log.LogWarning("Denied {Method} from {Peer} token={Token}: {Reason}", context.Method, context.Peer, token?.Name ?? "-", reason);
        return new RpcException(new Status(code, reason));
    }
}
