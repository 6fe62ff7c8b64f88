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
    private static readonly AsyncLocal<string?> Token = new();
    private static readonly AsyncLocal<string?> TrustedCa = new();

    private const string OptionName = "--token";
    private const string CaOptionName = "--tls-ca";

    /// <summary>
    /// Registers the Flight client as the CLI's remote client and adds <c>--token</c> to every
    /// command that takes <c>--server</c> (commands with a <c>--token</c> of their own keep it).
    /// </summary>
    public static void Register(RootCommand root)
    {
        foreach (var command in AllCommands(root))
        {
            if (command.Options.Any(o => o.Name == "--server") && !command.Options.Any(o => o.Name == OptionName))
                command.Options.Add(new Option<string?>(OptionName)
                {
                    Description = $"Bearer token for --server (default: the token in the address, then ${FlightTrafficClient.TokenVariable}).",
                });
            if (command.Options.Any(o => o.Name == "--server") && !command.Options.Any(o => o.Name == CaOptionName))
                command.Options.Add(new Option<string?>(CaOptionName)
                {
                    Description = "PEM file of the CA (or self-signed certificate) to trust for a TLS --server, for this command only (default: the system's trust store).",
                });
        }
        StoreAccess.RemoteClientFactory = server => FlightTrafficClient.Connect(server, Token.Value, TrustedCa.Value);
    }

    /// <summary>Puts the parsed command's --token in effect for the remote client.</summary>
    public static ParseResult WithToken(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var option = command.Options.Any(o => o.Name == "--server")
            ? command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == OptionName)
            : null;
        Token.Value = option is null ? null : parse.GetValue(option);
        var ca = command.Options.Any(o => o.Name == "--server")
            ? command.Options.OfType<Option<string?>>().FirstOrDefault(o => o.Name == CaOptionName)
            : null;
        TrustedCa.Value = ca is null ? null : parse.GetValue(ca);
        return parse;
    }

    private static IEnumerable<Command> AllCommands(Command command) =>
        command.Subcommands.SelectMany(c => AllCommands(c).Prepend(c));
}
