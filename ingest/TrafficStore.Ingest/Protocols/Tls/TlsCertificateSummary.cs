using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TrafficStore.Ingest.Protocols.Tls;

/// <summary>The fields of a server certificate the tls table shows.</summary>
public sealed record TlsCertificateSummary(string Subject, string Issuer, IReadOnlyList<string> SubjectAlternativeNames, long NotBeforeNs, long NotAfterNs, string SerialNumber)
{
    /// <summary>Decodes DER bytes; returns null for anything X.509 parsing rejects (never throws).</summary>
    public static TlsCertificateSummary? TryDecode(ReadOnlySpan<byte> der)
    {
        try
        {
            using var cert = X509CertificateLoader.LoadCertificate(der);
            var sans = new List<string>();
            foreach (var ext in cert.Extensions)
            {
                if (ext is X509SubjectAlternativeNameExtension san)
                {
                    sans.AddRange(san.EnumerateDnsNames());
                    sans.AddRange(san.EnumerateIPAddresses().Select(ip => ip.ToString()));
                }
            }
            return new TlsCertificateSummary(
                cert.SubjectName.Name,
                cert.IssuerName.Name,
                sans,
                ToNs(cert.NotBefore),
                ToNs(cert.NotAfter),
                cert.SerialNumber.ToLowerInvariant());
        }
        catch (CryptographicException)
        {
            // garbage or an unsupported encoding: the caller records tls_bad_certificate
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static long ToNs(DateTime local) => (local.ToUniversalTime() - DateTime.UnixEpoch).Ticks * 100;
}
