using System.Reflection;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Benchmarks.Ingest;

/// <summary>A row sink that only counts, so the benchmark measures parsing, not storage.</summary>
internal interface ICountingSink
{
    long Count { get; }
}

internal sealed class CountingSink<T> : IRowSink<T>, ICountingSink
{
    public long Count { get; private set; }
    public void Add(T row) => Count++;
}

/// <summary>
/// Every L7 protocol the ingest assembly has (HTTP/1, HTTP/2 + gRPC, DNS, TLS, whatever is merged),
/// each with counting sinks. Found by reflection, so the benchmark builds and runs on any branch:
/// a public non-abstract <see cref="IStreamProtocol"/> or <see cref="IDatagramProtocol"/> whose
/// public constructor takes row sinks and optional parameters (left at their defaults).
/// </summary>
internal sealed class L7Protocols
{
    private readonly List<ICountingSink> _sinks = new();

    public List<IStreamProtocol> Stream { get; } = new();
    public List<IDatagramProtocol> Datagram { get; } = new();
    public List<string> Names { get; } = new();

    /// <summary>Rows (exchanges, transactions, handshakes) emitted so far by all protocols.</summary>
    public long RowCount => _sinks.Sum(s => s.Count);

    public static L7Protocols Discover()
    {
        var set = new L7Protocols();
        var types = typeof(IStreamProtocol).Assembly.GetExportedTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false }
                        && (typeof(IStreamProtocol).IsAssignableFrom(t) || typeof(IDatagramProtocol).IsAssignableFrom(t)))
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (var type in types)
        {
            var instance = set.TryCreate(type);
            if (instance is null) continue;
            set.Names.Add(type.Name);
            if (instance is IStreamProtocol s) set.Stream.Add(s);
            if (instance is IDatagramProtocol d) set.Datagram.Add(d);
        }
        return set;
    }

    private object? TryCreate(Type type)
    {
        foreach (var ctor in type.GetConstructors().OrderByDescending(c => c.GetParameters().Length))
        {
            var args = new List<object?>();
            var sinks = new List<ICountingSink>();
            foreach (var p in ctor.GetParameters())
            {
                if (p.ParameterType.IsGenericType && p.ParameterType.GetGenericTypeDefinition() == typeof(IRowSink<>))
                {
                    var sink = (ICountingSink)Activator.CreateInstance(typeof(CountingSink<>).MakeGenericType(p.ParameterType.GetGenericArguments()))!;
                    sinks.Add(sink);
                    args.Add(sink);
                }
                else if (p.HasDefaultValue) args.Add(p.DefaultValue);
                else { args = null; break; }
            }
            if (args is null) continue;
            try
            {
                var instance = ctor.Invoke(args.ToArray());
                _sinks.AddRange(sinks);
                return instance;
            }
            catch (TargetInvocationException) { }
        }
        return null;
    }
}
