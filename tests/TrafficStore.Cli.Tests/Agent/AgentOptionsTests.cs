namespace TrafficStore.Cli.Tests.Agent;

/// <summary>Agent flags checked before anything is captured (no root needed): usage errors, not exceptions.</summary>
public class AgentOptionsTests
{
    [Theory]
    [InlineData("--idle-timeout", "0")]
    [InlineData("--idle-timeout", "-5")]
    [InlineData("--idle-timeout", "NaN")]
    [InlineData("--idle-timeout", "1e20")]
    [InlineData("--flush-interval", "0")]
    [InlineData("--flush-interval", "1e20")]
    [InlineData("--identity-history", "soon")]
    [InlineData("--identity-history", "none")]
    public void BadIntervalsAreUsageErrors(string flag, string value)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(["agent", "--server", "http://127.0.0.1:1", "--interface", "lo", "--k8s", "none", "--proc", "none", flag, value], stdout, stderr);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains(flag, stderr.ToString());
        Assert.Matches("must be a number of seconds above 0|is not a duration", stderr.ToString());
        Assert.DoesNotContain("internal error", stderr.ToString());
    }
}
