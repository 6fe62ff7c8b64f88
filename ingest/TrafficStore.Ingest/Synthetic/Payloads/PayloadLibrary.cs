using System.IO.Compression;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace TrafficStore.Ingest.Synthetic.Payloads;

/// <summary>
/// Message bodies built once per generator and shared by every conversation: JSON documents (and
/// their gzip encoding), a large static asset for downloads, and the server certificate. Sharing
/// them keeps large generations fast: a download is a slice of one buffer, not a new array.
/// </summary>
internal sealed class PayloadLibrary
{
    private readonly byte[]? _certificateOverride;
    private readonly DateTimeOffset _start;
    private byte[]? _certificate;

    public PayloadLibrary(Random rng, DateTimeOffset start, byte[]? certificateDer)
    {
        _start = start;
        _certificateOverride = certificateDer;
        OrdersJson = Encoding.UTF8.GetBytes(OrdersDocument(rng, 12));
        ExportJson = Encoding.UTF8.GetBytes(OrdersDocument(rng, 160));
        ExportJsonGzip = Gzip(ExportJson);
        StaticAsset = Asset(rng, 4 << 20);
        MetricsText = Encoding.ASCII.GetBytes(Metrics(rng));
    }

    /// <summary>A short order list (a typical API response).</summary>
    public byte[] OrdersJson { get; }

    /// <summary>A larger JSON export, served gzip-encoded.</summary>
    public byte[] ExportJson { get; }
    public byte[] ExportJsonGzip { get; }

    /// <summary>4 MiB of JavaScript-like text; downloads are slices of it.</summary>
    public byte[] StaticAsset { get; }

    /// <summary>A Prometheus text exposition, scraped over the long-lived connection.</summary>
    public byte[] MetricsText { get; }

    /// <summary>
    /// The DER certificate the TLS 1.2 servers present: self-signed RSA-2048, made on first use
    /// with <see cref="CertificateRequest"/>. The key differs per run (so do the certificate's
    /// bytes), but its length does not: a fixed serial, fixed names and dates, a 2048-bit modulus
    /// and a 256-byte signature, so every later sequence number stays deterministic.
    /// </summary>
    public byte[] CertificateDer => _certificate ??= _certificateOverride ?? SharedCertificate(_start);

    private static readonly Dictionary<DateTime, byte[]> Certificates = new();

    /// <summary>One certificate per process and start day: RSA key generation costs ~100 ms.</summary>
    private static byte[] SharedCertificate(DateTimeOffset start)
    {
        lock (Certificates)
        {
            if (!Certificates.TryGetValue(start.UtcDateTime.Date, out byte[]? der))
                Certificates[start.UtcDateTime.Date] = der = CreateCertificate(start);
            return der;
        }
    }

    public static byte[] CreateCertificate(DateTimeOffset start)
    {
        using RSA key = RSA.Create(2048);
        var request = new CertificateRequest("CN=checkout.shop.svc.cluster.local, O=TrafficStore synthetic", key,
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("checkout.shop.svc.cluster.local");
        san.AddDnsName("auth.auth.svc.cluster.local");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        var notBefore = new DateTimeOffset(start.UtcDateTime.Date.AddDays(-30), TimeSpan.Zero);
        byte[] serial = { 0x3A, 0x51, 0x7C, 0x02, 0x9E, 0x44, 0x10, 0x6B };
        using X509Certificate2 certificate = request.Create(request.SubjectName,
            X509SignatureGenerator.CreateForRSA(key, RSASignaturePadding.Pkcs1), notBefore, notBefore.AddDays(90), serial);
        return certificate.RawData;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    private static readonly string[] Skus = { "SKU-10442", "SKU-20931", "SKU-33810", "SKU-41007", "SKU-58219", "SKU-60125", "SKU-77310" };
    private static readonly string[] States = { "pending", "paid", "shipped", "delivered", "cancelled" };

    private static string OrdersDocument(Random rng, int count)
    {
        var sb = new StringBuilder("{\"orders\":[");
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"id\":\"ord_").Append(rng.Next(100000, 999999)).Append("\",\"customer\":\"cus_").Append(rng.Next(1000, 9999))
              .Append("\",\"status\":\"").Append(States[rng.Next(States.Length)]).Append("\",\"items\":[{\"sku\":\"")
              .Append(Skus[rng.Next(Skus.Length)]).Append("\",\"qty\":").Append(rng.Next(1, 5)).Append("}],\"total\":")
              .Append((rng.Next(500, 50000) / 100.0).ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(",\"currency\":\"EUR\"}");
        }
        return sb.Append("],\"next\":null}").ToString();
    }

    private static byte[] Asset(Random rng, int size)
    {
        string[] words = { "function", "return", "const", "let", "this", "render", "props", "state", "await", "fetch", "export", "default", "module", "items", "length", "push", "map", "filter", "=>", "{", "}", "(", ")", ";", "\n" };
        var bytes = new byte[size];
        int at = 0;
        while (at < size)
        {
            string w = words[rng.Next(words.Length)];
            for (int i = 0; i < w.Length && at < size; i++) bytes[at++] = (byte)w[i];
            if (at < size) bytes[at++] = (byte)' ';
        }
        return bytes;
    }

    private static string Metrics(Random rng)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP http_requests_total Total HTTP requests.\n# TYPE http_requests_total counter\n");
        foreach (string code in new[] { "200", "201", "401", "403", "429", "500", "503" })
            foreach (string path in new[] { "/api/v1/orders", "/api/v1/payments", "/static" })
                sb.Append("http_requests_total{code=\"").Append(code).Append("\",path=\"").Append(path).Append("\"} ").Append(rng.Next(1, 100000)).Append('\n');
        sb.Append("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
        sb.Append("process_resident_memory_bytes ").Append(rng.Next(50_000_000, 400_000_000)).Append('\n');
        return sb.ToString();
    }
}
