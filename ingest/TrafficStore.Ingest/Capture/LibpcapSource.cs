using System.Runtime.InteropServices;
using SharpPcap;
using SharpPcap.LibPcap;

namespace TrafficStore.Ingest.Capture;

/// <summary>Settings for live capture through libpcap.</summary>
public sealed record LiveCaptureOptions
{
    /// <summary>Bytes kept of each packet (libpcap's snaplen).</summary>
    public int SnapLength { get; init; } = 262144;
    public bool Promiscuous { get; init; }
    /// <summary>A BPF filter expression (tcpdump syntax), or null for everything.</summary>
    public string? Filter { get; init; }
    /// <summary>
    /// How long one libpcap read waits before the source checks whether <see cref="LibpcapSource.Stop"/>
    /// was called; reads keep waiting for packets otherwise.
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Kernel buffer size in bytes (null: libpcap's default).</summary>
    public int? KernelBufferSize { get; init; }
}

/// <summary>libpcap's counters (pcap_stats) since the capture was opened.</summary>
/// <param name="Received">Packets the filter accepted (ps_recv).</param>
/// <param name="DroppedByKernel">Packets dropped because the kernel buffer was full (ps_drop).</param>
/// <param name="DroppedByInterface">Packets dropped by the interface or its driver (ps_ifdrop).</param>
public readonly record struct LiveCaptureStatistics(long Received, long DroppedByKernel, long DroppedByInterface);

/// <summary>
/// A capture source backed by libpcap (through SharpPcap): a live interface, or a file read by
/// libpcap itself (used to cross-check <see cref="CaptureFile"/>). Packets are read with
/// pcap_next_ex into libpcap's own buffer, so nothing is allocated per frame; the frame is valid
/// until the next read. Timestamps are requested in nanoseconds.
/// </summary>
public sealed class LibpcapSource : ICaptureSource
{
    private readonly PcapDevice _device;
    private readonly bool _live;
    private readonly bool _nanoseconds;
    private readonly LinkType _linkType;
    private long _frameNumber;
    private volatile bool _stopRequested;
    private CaptureError? _error;

    private long _drainUntil;   // Stopwatch timestamp; 0 until a stop was requested and seen
    private readonly TimeSpan _readTimeout;

    private LibpcapSource(PcapDevice device, bool live, TimeSpan readTimeout = default)
    {
        _readTimeout = readTimeout;
        _device = device;
        _live = live;
        Name = live ? device.Name : ((CaptureFileReaderDevice)device).FileName;
        _nanoseconds = device.TimestampResolution == SharpPcap.TimestampResolution.Nanosecond;
        // pcap_datalink gives DLT_ values; they equal the LINKTYPE_ values for everything the
        // decoder knows except DLT_RAW (12 or 14 on some systems), which the decoder accepts too.
        _linkType = (LinkType)(ushort)device.LinkType;
    }

    public string Name { get; }
    public CaptureError? Error => _error;

    /// <summary>
    /// Starts capturing on <paramref name="interfaceName"/> (e.g. "eth0", "any"). Failures such as a
    /// missing interface or missing privileges do not throw: the returned source's first read
    /// reports them (kind <c>open_failed</c>).
    /// </summary>
    public static ICaptureSource OpenLive(string interfaceName, LiveCaptureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interfaceName);
        options ??= new LiveCaptureOptions();
        try
        {
            var device = LibPcapLiveDeviceList.New().FirstOrDefault(d => d.Name == interfaceName);
            if (device is null)
                return new FailedCaptureSource(new CaptureError(interfaceName, -1, "open_failed", "no such capture interface"));
            device.Open(new DeviceConfiguration
            {
                Snaplen = options.SnapLength,
                Mode = options.Promiscuous ? DeviceModes.Promiscuous : DeviceModes.None,
                ReadTimeout = (int)Math.Clamp(options.ReadTimeout.TotalMilliseconds, 1, int.MaxValue),
                KernelBufferSize = options.KernelBufferSize,
                TimestampResolution = SharpPcap.TimestampResolution.Nanosecond,
            });
            if (options.Filter is not null) device.Filter = options.Filter;
            return new LibpcapSource(device, live: true, options.ReadTimeout);
        }
        catch (Exception e) when (e is PcapException or DllNotFoundException or InvalidOperationException)
        {
            return new FailedCaptureSource(new CaptureError(interfaceName, -1, "open_failed", e.Message));
        }
    }

    /// <summary>Reads a capture file through libpcap (one link type per file, no per-packet interface).</summary>
    public static ICaptureSource OpenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException("Capture file not found.", path);
        try
        {
            var device = new CaptureFileReaderDevice(path);
            device.Open(new DeviceConfiguration { TimestampResolution = SharpPcap.TimestampResolution.Nanosecond });
            return new LibpcapSource(device, live: false);
        }
        catch (Exception e) when (e is PcapException or DllNotFoundException or InvalidOperationException)
        {
            return new FailedCaptureSource(new CaptureError(path, -1, "open_failed", e.Message));
        }
    }

    /// <summary>
    /// libpcap's counters for a live capture (pcap_stats), or null for files or when they cannot be
    /// read. Call it from the thread that reads frames: libpcap handles are not thread-safe.
    /// </summary>
    public LiveCaptureStatistics? ReadStatistics()
    {
        if (!_live) return null;
        try
        {
            var s = _device.Statistics;
            return s is null ? null : new LiveCaptureStatistics(s.ReceivedPackets, s.DroppedPackets, s.InterfaceDroppedPackets);
        }
        catch (Exception e) when (e is PcapException or InvalidOperationException) { return null; }
    }

    /// <summary>
    /// Ends a live capture (thread-safe): a blocked read wakes up, the packets libpcap already holds
    /// are still returned (for up to two read timeouts), then reads return <see cref="CaptureReadStatus.EndOfCapture"/>.
    /// </summary>
    public void Stop()
    {
        _stopRequested = true;
        // With TPACKET_V3 (Linux) libpcap polls without a timeout until a packet arrives, so the read
        // timeout alone never wakes an idle capture; pcap_breakloop (safe from another thread) does:
        // the blocked pcap_next_ex returns PCAP_ERROR_BREAK (-2).
        if (_live) BreakLoop.Invoke(_device);
    }

    public CaptureReadStatus TryReadNext(ref CaptureFrame frame)
    {
        if (_error is not null) return CaptureReadStatus.Error;
        while (true)
        {
            if (_stopRequested && _drainUntil == 0 && !BeginDrain()) return CaptureReadStatus.EndOfCapture;
            // pcap_next_ex: 1 packet, 0 timeout (live) / nothing ready (non-blocking), -1 error, -2 end of file / break.
            IntPtr header = IntPtr.Zero, data = IntPtr.Zero;
            int result = _device.GetNextPacketPointers(ref header, ref data);
            if (result == 1)
            {
                FillFrame(ref frame, header, data);
                return CaptureReadStatus.Frame;
            }
            if (_live && (result == 0 || (result == -2 && _stopRequested)))
            {
                if (_drainUntil == 0) continue;
                if (System.Diagnostics.Stopwatch.GetTimestamp() >= _drainUntil) return CaptureReadStatus.EndOfCapture;
                Thread.Sleep(5);
                continue;
            }
            if (result == -2 || result == 0) return CaptureReadStatus.EndOfCapture;
            _error = new CaptureError(Name, -1, "read_error", _device.LastError ?? "libpcap read failed");
            return CaptureReadStatus.Error;
        }
    }

    /// <summary>
    /// After <see cref="Stop"/>: switch to non-blocking reads and keep reading for two read timeouts,
    /// so packets already captured (TPACKET_V3 hands the kernel's current block over only when it is
    /// retired, after the read timeout) are processed rather than thrown away. False for files.
    /// </summary>
    private bool BeginDrain()
    {
        if (!_live) return false;
        try { if (_device is LibPcapLiveDevice live) live.NonBlockingMode = true; }
        catch (Exception e) when (e is PcapException or InvalidOperationException) { return false; }
        long span = (long)((_readTimeout.TotalSeconds * 2 + 0.05) * System.Diagnostics.Stopwatch.Frequency);
        _drainUntil = System.Diagnostics.Stopwatch.GetTimestamp() + span;
        return true;
    }

    // struct pcap_pkthdr { struct timeval ts; bpf_u_int32 caplen; bpf_u_int32 len; }.
    // timeval is two 64-bit fields on 64-bit Unix (macOS pads a 32-bit tv_usec) and two 32-bit
    // fields on Windows; with nanosecond precision tv_usec holds nanoseconds.
    private unsafe void FillFrame(ref CaptureFrame frame, IntPtr header, IntPtr data)
    {
        byte* h = (byte*)header;
        long seconds;
        long fraction;
        uint capturedLength, originalLength;
        if (OperatingSystem.IsWindows() || IntPtr.Size == 4)
        {
            seconds = *(int*)h;
            fraction = *(int*)(h + 4);
            capturedLength = *(uint*)(h + 8);
            originalLength = *(uint*)(h + 12);
        }
        else
        {
            seconds = *(long*)h;
            fraction = *(int*)(h + 8); // low half on little-endian; below 1e9 either way
            capturedLength = *(uint*)(h + 16);
            originalLength = *(uint*)(h + 20);
        }
        frame.Number = ++_frameNumber;
        frame.TimestampNs = seconds * 1_000_000_000L + (_nanoseconds ? fraction : fraction * 1000);
        frame.OriginalLength = originalLength > int.MaxValue ? int.MaxValue : (int)originalLength;
        frame.LinkType = _linkType;
        frame.InterfaceId = 0;
        frame.FileOffset = -1;
        frame.Data = new ReadOnlySpan<byte>((void*)data, (int)Math.Min(capturedLength, int.MaxValue));
    }

    public void Dispose() => _device.Dispose();
}

/// <summary>pcap_breakloop, which SharpPcap keeps internal, called through libpcap's exported symbol.</summary>
internal static unsafe class BreakLoop
{
    private static readonly delegate* unmanaged<IntPtr, void> Function = Resolve();

    private static delegate* unmanaged<IntPtr, void> Resolve()
    {
        string[] names = OperatingSystem.IsWindows() ? ["wpcap"]
            : OperatingSystem.IsMacOS() ? ["libpcap.dylib", "libpcap.A.dylib"]
            : ["libpcap.so.1", "libpcap.so.0.8", "libpcap.so"];
        foreach (var name in names)
            if (NativeLibrary.TryLoad(name, out var lib) && NativeLibrary.TryGetExport(lib, "pcap_breakloop", out var fn))
                return (delegate* unmanaged<IntPtr, void>)fn;
        return null;
    }

    public static void Invoke(PcapDevice device)
    {
        if (Function == null) return;
        var handle = device.Handle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (added && !handle.IsInvalid) Function(handle.DangerousGetHandle());
        }
        catch (ObjectDisposedException) { }          // closed meanwhile: nothing is blocked on it
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }
}
