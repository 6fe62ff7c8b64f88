using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.Tests.Decode;

internal sealed record DecodeResult(DecodeStatus Status, DecodedPacket Packet, byte[] Payload, DecodeAnomaly Anomaly)
{
    public static DecodeResult Of(PacketDecoder decoder, byte[] data, LinkType linkType, int? originalLength = null,
        long frameNumber = 1, long timestampNs = 1_000_000_000)
    {
        var status = decoder.Decode(data, linkType, frameNumber, timestampNs, originalLength ?? data.Length, 0, out var packet, out var payload);
        return new DecodeResult(status, packet, payload.ToArray(), decoder.LastAnomaly);
    }

    public static DecodeResult Of(byte[] data, LinkType linkType, int? originalLength = null) =>
        Of(new PacketDecoder(), data, linkType, originalLength);
}
