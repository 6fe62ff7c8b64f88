using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Ingest.Tables;

/// <summary>Maps <see cref="ColumnKind"/> to Arrow types and a <see cref="TableDefinition{T}"/> to an Arrow schema.</summary>
public static class ArrowSchemas
{
    public static readonly TimestampType TimestampNs = new(TimeUnit.Nanosecond, "UTC");
    public static readonly DurationType DurationNs = DurationType.Nanosecond;

    public static IArrowType ToArrowType(ColumnKind kind) => kind switch
    {
        ColumnKind.Int64 => Int64Type.Default,
        ColumnKind.Double => DoubleType.Default,
        ColumnKind.String => StringType.Default,
        ColumnKind.Boolean => BooleanType.Default,
        ColumnKind.TimestampNs => TimestampNs,
        ColumnKind.DurationNs => DurationNs,
        ColumnKind.Binary => BinaryType.Default,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>The table's Arrow schema; metadata carries the table name and version.</summary>
    public static Schema ToSchema<T>(TableDefinition<T> table)
    {
        var builder = new Schema.Builder();
        foreach (var c in table.Columns)
        {
            builder.Field(f => f.Name(c.Name).DataType(ToArrowType(c.Kind)).Nullable(true)
                .Metadata("description", c.Description));
        }
        builder.Metadata("trafficstore.table", table.Name);
        builder.Metadata("trafficstore.table_version", table.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return builder.Build();
    }
}
