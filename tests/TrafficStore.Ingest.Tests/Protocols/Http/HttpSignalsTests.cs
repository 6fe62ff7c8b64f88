using System.Text;
using TrafficStore.Ingest.Protocols.Http;

namespace TrafficStore.Ingest.Tests.Protocols.Http;

public class HttpSignalsTests
{
    private static int Cards(string s) => HttpSignals.CountCardNumbers(Encoding.ASCII.GetBytes(s));
    private static int Emails(string s) => HttpSignals.CountEmailAddresses(Encoding.ASCII.GetBytes(s));

    [Theory]
    // published test numbers (Visa, Mastercard, Amex, Discover, 19-digit Visa)
    [InlineData("card=4111111111111111&x=1", 1)]
    [InlineData("{\"pan\":\"5500 0000 0000 0004\"}", 1)]
    [InlineData("3782-822463-10005", 1)]
    [InlineData("6011000990139424 and 4012888888881881", 2)]
    [InlineData("4000000000000000006", 1)]
    // Luhn-invalid, too short, too long, part of a longer token
    [InlineData("4111111111111112", 0)]
    [InlineData("411111111111", 0)]
    [InlineData("41111111111111111111111", 0)]
    [InlineData("id4111111111111111", 0)]
    [InlineData("4111111111111111x", 0)]
    [InlineData("4111  1111 1111 1111", 0)]
    public void CardNumbersNeedLuhnAnd13To19Digits(string text, int expected) => Assert.Equal(expected, Cards(text));

    [Theory]
    [InlineData("contact: alice@example.org, bob.smith+tag@mail.example.co.uk", 2)]
    [InlineData("user@localhost", 0)]
    [InlineData("@example.org", 0)]
    [InlineData("a@b.c", 0)]
    [InlineData("x@y.123", 0)]
    [InlineData("mailto:first.last@sub.domain.io?subject=hi", 1)]
    public void EmailAddressesNeedALocalPartAndADottedDomain(string text, int expected) => Assert.Equal(expected, Emails(text));

    [Theory]
    [InlineData("Bearer eyJhbGciOi.x.y", "Bearer")]
    [InlineData("Basic dXNlcjpwYXNz", "Basic")]
    [InlineData("  Digest username=\"u\", realm=\"r\"", "Digest")]
    [InlineData("", null)]
    public void AuthSchemeIsTheFirstToken(string value, string? scheme) => Assert.Equal(scheme, HttpSignals.AuthSchemeOf(value));

    [Fact]
    public void ApplyScansDecodedBodiesOfBothHalvesAndHonoursTheScanBound()
    {
        var x = new HttpExchange
        {
            RequestBody = Encoding.ASCII.GetBytes("compressed-looking"),
            RequestBodyDecoded = Encoding.ASCII.GetBytes("pan=4111111111111111 mail=a@example.com"),
            ResponseBody = Encoding.ASCII.GetBytes("padding padding padding 5500000000000004"),
        };
        x.RequestHeaders.Add(new("authorization", "Bearer t"));
        HttpSignals.Apply(x);
        Assert.Equal(("Bearer", 2, 1), (x.AuthScheme, x.CardNumbers, x.EmailAddresses));
        HttpSignals.Apply(x, new SignalOptions { MaxScanBytes = 20 });
        Assert.Equal(1, x.CardNumbers);
    }
}
