using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Server.Security;

namespace TrafficStore.Server.Tests;

public class RedactorTests
{
    [Theory]
    // Test card numbers published by the card networks (Luhn-valid) and a Luhn-invalid neighbour.
    [InlineData("4111111111111111", true)]
    [InlineData("4111 1111 1111 1111", true)]
    [InlineData("5500-0000-0000-0004", true)]
    [InlineData("378282246310005", true)]
    [InlineData("4111111111111112", false)]
    [InlineData("123456789012", false)]
    public void Luhn(string number, bool valid) => Assert.Equal(valid, Redactor.IsLuhnValid(number));

    [Fact]
    public void MasksCardNumbersInsideText()
    {
        Assert.Equal("card=[card]&amount=12", Redactor.MaskCards("card=4111111111111111&amount=12"));
        Assert.Equal("order 4111111111111112 ok", Redactor.MaskCards("order 4111111111111112 ok"));
    }

    [Fact]
    public void RedactsSensitiveHeaderValuesOnly()
    {
        var headers = "Host: shop\r\nAuthorization: Bearer abc.def\r\ncookie: sid=42\r\nSet-Cookie: a=b; HttpOnly\r\nAccept: */*\r\n";
        var redacted = Redactor.RedactHeaders(headers);
        Assert.Equal("Host: shop\r\nAuthorization: [redacted]\r\ncookie: [redacted]\r\nSet-Cookie: [redacted]\r\nAccept: */*\r\n", redacted);
    }

    [Fact]
    public void BatchBodiesBecomeNullAndLengthsStay()
    {
        var schema = new Schema.Builder()
            .Field(f => f.Name("body").DataType(BinaryType.Default).Nullable(true))
            .Field(f => f.Name("body_length").DataType(Int64Type.Default).Nullable(true))
            .Field(f => f.Name("headers").DataType(StringType.Default).Nullable(true))
            .Field(f => f.Name("uri").DataType(StringType.Default).Nullable(true))
            .Build();
        var body = new BinaryArray.Builder().Append("secret"u8).AppendNull().Build();
        var length = new Int64Array.Builder().Append(6).AppendNull().Build();
        var headers = new StringArray.Builder().Append("Cookie: x=1\r\n").Append("Accept: a\r\n").Build();
        var uri = new StringArray.Builder().Append("/pay?c=4111111111111111").Append("/").Build();
        var batch = Redactor.Redact(new RecordBatch(schema, [body, length, headers, uri], 2));

        var outBody = (BinaryArray)batch.Column(0);
        Assert.True(outBody.IsNull(0));
        Assert.Equal(6, ((Int64Array)batch.Column(1)).GetValue(0));
        Assert.Equal("Cookie: [redacted]\r\n", ((StringArray)batch.Column(2)).GetString(0));
        Assert.Equal("Accept: a\r\n", ((StringArray)batch.Column(2)).GetString(1));
        Assert.Equal("/pay?c=[card]", ((StringArray)batch.Column(3)).GetString(0));
    }
}
