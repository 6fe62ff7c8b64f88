using System.CommandLine;
using TrafficStore.Cli.Query;
using TrafficStore.Server.Client;

namespace TrafficStore.Cli.Serve;

/// <summary>
/// How the store commands reach a server: <c>--server URL</c> (their own option) opens a
/// <see cref="FlightTrafficClient"/>, with the bearer token from <c>--token</c> (accepted by every
/// command), else the address's user part, else <c>TRAFFICSTORE_TOKEN</c>; <c>--tls-ca FILE</c> trusts a private CA for a
/// TLS server.
/// </summary>
public static class ServerAccess
{
    /// <summary>An option every command with <c>--server</c> gets, and its parsed value for the remote client.</summary>
    private sealed record ClientOption(string Name, string Description)
    {
        public AsyncLocal<string?> Value { get; } = new();
    }

    private static readonly ClientOption Token = new("--token",
        $"Bearer token for --server (default: the token in the address, then ${FlightTrafficClient.TokenVariable}).");
    private static readonly ClientOption TrustedCa = new("--tls-ca",
        "PEM file of the CA (or self-signed certificate) to trust for a TLS --server, for this command only (default: the system's trust store).");
    private static readonly ClientOption[] ClientOptions = [Token, TrustedCa];

    /// <summary>
    /// Registers the Flight client as the CLI's remote client and adds <c>--token</c> and <c>--tls-ca</c> to every
    /// command that takes <c>--server</c> (commands with an option of that name of their own keep it).
    /// </summary>
    public static void Register(RootCommand root)
    {
        foreach (var command in AllCommands(root).Where(TakesServer))
        {
            foreach (var option in ClientOptions)
                if (!command.Options.Any(o => o.Name == option.Name))
                    command.Options.Add(new Option<string?>(option.Name) { Description = option.Description });
        }
        StoreAccess.RemoteClientFactory = server => FlightTrafficClient.Connect(server, Token.Value.Value, TrustedCa.Value.Value);
    }

    /// <summary>Puts the parsed command's --token and --tls-ca in effect for the remote client.</summary>
    public static ParseResult WithClientOptions(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        foreach (var option in ClientOptions)
        {
            var parsed = TakesServer(command) ? command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == option.Name) : null;
            option.Value.Value = parsed is null ? null : parse.GetValue(parsed);
        }
        return parse;
    }

    private static bool TakesServer(Command command) => command.Options.Any(o => o.Name == "--server");

    private static IEnumerable<Command> AllCommands(Command command) =>
        command.Subcommands.SelectMany(c => AllCommands(c).Prepend(c));
}
