using System.Buffers.Binary;
using System.Net;

namespace TrafficStore.Ingest.Decode;

/// <summary>
/// An IPv4 or IPv6 address held in two longs, so that flow keys hash and compare without
/// allocating. IPv4 addresses live in the low 32 bits of <see cref="Low"/> with <see cref="High"/> 0.
/// </summary>
public readonly struct NetAddress : IEquatable<NetAddress>
{
    public readonly ulong High;
    public readonly ulong Low;
    public readonly bool IsV6;

    private NetAddress(ulong high, ulong low, bool isV6)
    {
        High = high;
        Low = low;
        IsV6 = isV6;
    }

    /// <summary>Reads 4 bytes (network order) as IPv4 or 16 bytes as IPv6.</summary>
    public static NetAddress FromBytes(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => new NetAddress(0, BinaryPrimitives.ReadUInt32BigEndian(bytes), false),
        16 => new NetAddress(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), true),
        _ => throw new ArgumentException("An IP address is 4 or 16 bytes.", nameof(bytes)),
    };

    public static NetAddress V4(uint address) => new(0, address, false);

    public static NetAddress Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public static NetAddress FromIPAddress(IPAddress address)
    {
        Span<byte> buffer = stackalloc byte[16];
        address.TryWriteBytes(buffer, out int written);
        return FromBytes(buffer[..written]);
    }

    public void WriteBytes(Span<byte> destination)
    {
        if (IsV6)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination, High);
            BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)Low);
        }
    }

    public int ByteLength => IsV6 ? 16 : 4;

    public IPAddress ToIPAddress()
    {
        Span<byte> buffer = stackalloc byte[16];
        WriteBytes(buffer);
        return new IPAddress(buffer[..ByteLength]);
    }

    /// <summary>Dotted quad or RFC 5952 text, as tshark prints ip.src / ipv6.src.</summary>
    public override string ToString() => ToIPAddress().ToString();

    public bool Equals(NetAddress other) => High == other.High && Low == other.Low && IsV6 == other.IsV6;
    public override bool Equals(object? obj) => obj is NetAddress other && Equals(other);
    public override int GetHashCode() => HashCode.Combine(High, Low, IsV6);
    public static bool operator ==(NetAddress a, NetAddress b) => a.Equals(b);
    public static bool operator !=(NetAddress a, NetAddress b) => !a.Equals(b);

    /// <summary>Total order (IPv4 before IPv6, then numeric), used to build direction-free flow keys.</summary>
    public int CompareTo(NetAddress other)
    {
        if (IsV6 != other.IsV6) return IsV6 ? 1 : -1;
        int c = High.CompareTo(other.High);
        return c != 0 ? c : Low.CompareTo(other.Low);
    }
}
