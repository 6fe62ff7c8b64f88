using Apache.Arrow;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Agent.Capture;

/// <summary>
/// Rows of one store table waiting to become an Arrow batch. The capture thread adds, the agent's
/// flush loop drains (thread-safe); the batch is built with the store's own table definition, so
/// its schema is the one the server checks DoPut batches against.
/// </summary>
internal sealed class TableBuffer<T>
{
    private readonly TableDefinition<T> _table;
    private readonly ArrowBatchBuilder<T> _builder;
    private readonly Lock _gate = new();
    private List<T> _rows = new();

    public TableBuffer(TableDefinition<T> table)
    {
        _table = table;
        _builder = new ArrowBatchBuilder<T>(table);
    }

    public string Table => _table.Name;

    public int Count
    {
        get { lock (_gate) return _rows.Count; }
    }

    public void Add(T row)
    {
        lock (_gate) _rows.Add(row);
    }

    /// <summary>The rows added since the last drain as batches of at most <paramref name="maxBatchBytes"/> (none when there are no rows).</summary>
    public List<RecordBatch> Drain(long maxBatchBytes)
    {
        List<T> rows;
        lock (_gate)
        {
            if (_rows.Count == 0) return [];
            rows = _rows;
            _rows = new List<T>();
        }
        return new BoundedBatches<T>(_builder, maxBatchBytes).Build(rows);
    }
}
