using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TrafficStore.Server.Security;

/// <summary>
/// The token file: a JSON object mapping each bearer token to what it may do.
/// <code>
/// {
///   "tokens": {
///     "s3cr3t-admin": { "name": "ops", "namespaces": "*", "scopes": ["read", "write", "admin", "payloads:read"] },
///     "s3cr3t-shop":  { "name": "shop-team", "namespaces": ["shop"], "scopes": ["read"] }
///   }
/// }
/// </code>
/// Unknown keys and scopes are rejected so that a typo never grants or silently drops a permission.
/// </summary>
public sealed class TokenFile
{
    private readonly Dictionary<string, AccessToken> _tokens;

    private TokenFile(Dictionary<string, AccessToken> tokens) => _tokens = tokens;

    public int Count => _tokens.Count;

    /// <summary>Looks a token up in constant time with respect to the token's content.</summary>
    public AccessToken? Find(string token)
    {
        // Compare against every entry with a fixed-time comparison: no early exit on a prefix match.
        AccessToken? found = null;
        var candidate = System.Text.Encoding.UTF8.GetBytes(token);
        foreach (var (key, value) in _tokens)
        {
            var k = System.Text.Encoding.UTF8.GetBytes(key);
            if (CryptographicOperations.FixedTimeEquals(k, candidate)) found = value;
        }
        return found;
    }

    public static TokenFile Load(string path) => Parse(File.ReadAllText(path), path);

    public static TokenFile Parse(string json, string source = "token file")
    {
        JsonNode? root;
        try { root = JsonNode.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON: {e.Message}"); }
        if (root is not JsonObject obj) throw new InvalidDataException($"{source}: expected a JSON object with a \"tokens\" object");
        foreach (var key in obj.Select(p => p.Key))
            if (key != "tokens") throw new InvalidDataException($"{source}: unknown key '{key}' (only \"tokens\")");
        if (obj["tokens"] is not JsonObject tokens) throw new InvalidDataException($"{source}: \"tokens\" must be an object of token -> permissions");

        var result = new Dictionary<string, AccessToken>(StringComparer.Ordinal);
        foreach (var (token, node) in tokens)
        {
            if (token.Length < 16) throw new InvalidDataException($"{source}: a token is shorter than 16 characters");
            if (node is not JsonObject entry) throw new InvalidDataException($"{source}: token entry must be an object");
            string name = token[..4] + "…";
            IReadOnlyList<string>? namespaces = null;
            var scopes = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (key, value) in entry)
            {
                switch (key)
                {
                    case "name":
                        name = value?.GetValue<string>() ?? name;
                        break;
                    case "namespaces":
                        if (value is JsonValue v && v.TryGetValue<string>(out var star) && star == "*") namespaces = null;
                        else if (value is JsonArray arr) namespaces = arr.Select(n => n?.GetValue<string>() ?? throw new InvalidDataException($"{source}: null namespace")).ToList();
                        else throw new InvalidDataException($"{source}: \"namespaces\" must be \"*\" or an array of names");
                        break;
                    case "scopes":
                        if (value is not JsonArray list) throw new InvalidDataException($"{source}: \"scopes\" must be an array");
                        foreach (var s in list)
                        {
                            var scope = s?.GetValue<string>() ?? "";
                            if (!Scopes.All.Contains(scope)) throw new InvalidDataException($"{source}: unknown scope '{scope}' (read, write, admin, payloads:read)");
                            scopes.Add(scope);
                        }
                        break;
                    default:
                        throw new InvalidDataException($"{source}: unknown key '{key}' in a token entry (name, namespaces, scopes)");
                }
            }
            if (!entry.ContainsKey("namespaces")) throw new InvalidDataException($"{source}: token '{name}' has no \"namespaces\" (use \"*\" for all)");
            result[token] = new AccessToken(name, namespaces, scopes);
        }
        return new TokenFile(result);
    }

    /// <summary>A new random token (32 bytes, base64url).</summary>
    public static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// Writes a token file with one all-scopes token named "local-admin" (mode 0600 on Unix) and returns the token.
    /// Used by <c>serve</c> when no <c>--tokens</c> is given and the store has no token file yet.
    /// </summary>
    public static string CreateAdminFile(string path)
    {
        var token = NewToken();
        var json = new JsonObject
        {
            ["tokens"] = new JsonObject
            {
                [token] = new JsonObject
                {
                    ["name"] = "local-admin",
                    ["namespaces"] = "*",
                    ["scopes"] = new JsonArray(Scopes.Read, Scopes.Write, Scopes.Admin, Scopes.PayloadsRead),
                },
            },
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Move(tmp, path, overwrite: false);
        return token;
    }
}
