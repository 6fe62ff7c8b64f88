using TrafficStore.Server.Security;

namespace TrafficStore.Server.Tests;

public class TokenFileTests
{
    [Fact]
    public void ParsesScopesAndNamespaces()
    {
        var file = TokenFile.Parse("""
            {"tokens": {
              "aaaaaaaaaaaaaaaaaaaa": {"name": "ops", "namespaces": "*", "scopes": ["read", "admin"]},
              "bbbbbbbbbbbbbbbbbbbb": {"name": "shop", "namespaces": ["shop"], "scopes": ["read"]}
            }}
            """);
        var ops = file.Find("aaaaaaaaaaaaaaaaaaaa")!;
        Assert.True(ops.AllNamespaces);
        Assert.True(ops.Has(Scopes.Admin));
        Assert.False(ops.Has(Scopes.PayloadsRead));
        var shop = file.Find("bbbbbbbbbbbbbbbbbbbb")!;
        Assert.Equal(["shop"], shop.Namespaces);
        Assert.Null(file.Find("cccccccccccccccccccc"));
        Assert.Null(file.Find("aaaaaaaaaaaaaaaaaaa"));
    }

    [Theory]
    [InlineData("""{"tokens": {"aaaaaaaaaaaaaaaaaaaa": {"namespaces": "*", "scopes": ["raed"]}}}""", "unknown scope 'raed'")]
    [InlineData("""{"tokens": {"aaaaaaaaaaaaaaaaaaaa": {"namespaces": "*", "scope": ["read"]}}}""", "unknown key 'scope'")]
    [InlineData("""{"tokens": {"aaaaaaaaaaaaaaaaaaaa": {"scopes": ["read"]}}}""", "no \"namespaces\"")]
    [InlineData("""{"tokens": {"short": {"namespaces": "*", "scopes": ["read"]}}}""", "shorter than 16")]
    [InlineData("""{"token": {}}""", "unknown key 'token'")]
    [InlineData("""not json""", "not valid JSON")]
    public void RejectsMistakes(string json, string message)
    {
        var e = Assert.Throws<InvalidDataException>(() => TokenFile.Parse(json));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void GeneratedAdminFileIsPrivateAndLoads()
    {
        var dir = Directory.CreateTempSubdirectory("ts-tokens-");
        try
        {
            var path = Path.Combine(dir.FullName, "tokens.json");
            var token = TokenFile.CreateAdminFile(path);
            var loaded = TokenFile.Load(path).Find(token)!;
            Assert.True(loaded.AllNamespaces);
            Assert.True(Scopes.All.All(loaded.Has));
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.NotEqual(token, TokenFile.CreateAdminFile(Path.Combine(dir.FullName, "other.json")));
        }
        finally { dir.Delete(true); }
    }
}
