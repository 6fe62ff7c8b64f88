using System.Buffers;
using System.Text;

namespace TrafficStore.Ingest.Protocols.Http2.Hpack;

/// <summary>Outcome of feeding one fragment of a header block.</summary>
public enum HpackStatus : byte
{
    /// <summary>Every complete field representation was decoded; the block may go on.</summary>
    Ok,
    /// <summary>The block is malformed; the rest of it is skipped (see <see cref="HpackDecoder.LastError"/>).</summary>
    InvalidData,
}

/// <summary>Why a header block could not be decoded.</summary>
public enum HpackError : byte
{
    None,
    /// <summary>An integer (§5.1) longer than 32 bits.</summary>
    IntegerOverflow,
    /// <summary>Index 0, or beyond static + dynamic table (§2.3.3).</summary>
    InvalidIndex,
    /// <summary>Huffman string with EOS or bad padding (§5.2).</summary>
    InvalidHuffman,
    /// <summary>A size update above the limit the decoder's side allowed (§6.3).</summary>
    TableSizeTooLarge,
    /// <summary>A size update after the first field of the block (§4.2).</summary>
    TableSizeUpdateNotAtStart,
    /// <summary>The block ended inside a field representation.</summary>
    TruncatedBlock,
    /// <summary>A string literal longer than the header list cap.</summary>
    StringTooLong,
}

/// <summary>
/// HPACK decoder for one direction of one connection (RFC 7541). Resumable: a block may arrive
/// in any number of fragments (HEADERS + CONTINUATION payloads, or single bytes); a field
/// representation cut by a fragment boundary is kept in a small buffer until the rest arrives,
/// everything else is decoded straight from the caller's span. Never throws on input: a
/// malformed block yields <see cref="HpackStatus.InvalidData"/> with <see cref="LastError"/>.
/// </summary>
public sealed class HpackDecoder
{
    private readonly int _maxHeaderListSize;
    private byte[] _pending = Array.Empty<byte>();
    private int _pendingLength;
    private bool _inBlock;
    private bool _blockFailed;
    private bool _fieldSeen;
    private int _headerListSize;

    /// <param name="maxHeaderListSize">Cap on the decoded header list of one block (names + values + 32 per field, §4.1 sizes); fields beyond it are decoded (the table stays in sync) but not kept.</param>
    /// <param name="maxTableSize">Initial SETTINGS_HEADER_TABLE_SIZE (4096 by default, RFC 9113 §6.5.2).</param>
    public HpackDecoder(int maxHeaderListSize = 64 * 1024, int maxTableSize = 4096)
    {
        _maxHeaderListSize = maxHeaderListSize;
        MaxTableSizeLimit = maxTableSize;
        Table = new HpackDynamicTable(maxTableSize);
    }

    public HpackDynamicTable Table { get; }

    /// <summary>Largest size update the decoding side allows (its SETTINGS_HEADER_TABLE_SIZE).</summary>
    public int MaxTableSizeLimit { get; set; }

    /// <summary>
    /// Mid-stream pickup: the entries inserted before the capture started are unknown. When set,
    /// a reference beyond the known dynamic entries skips that field and counts it in
    /// <see cref="UnknownIndexes"/> instead of failing the block, and a size update above
    /// <see cref="MaxTableSizeLimit"/> is taken as the limit (its SETTINGS may predate the capture).
    /// </summary>
    public bool TolerateUnknownIndexes { get; set; }

    /// <summary>Error of the current (or last) block.</summary>
    public HpackError LastError { get; private set; }

    /// <summary>Fields of the current block dropped because the header list cap was reached.</summary>
    public bool HeaderListTruncated { get; private set; }

    /// <summary>Fields of the current block that referenced unknown dynamic entries (mid-stream).</summary>
    public int UnknownIndexes { get; private set; }

    /// <summary>
    /// Decodes the next <paramref name="fragment"/> of a header block, appending complete fields to
    /// <paramref name="headers"/>. <paramref name="endOfBlock"/> marks the fragment that ends the
    /// block (END_HEADERS).
    /// </summary>
    public HpackStatus Decode(ReadOnlySpan<byte> fragment, bool endOfBlock, List<KeyValuePair<string, string>> headers)
    {
        if (!_inBlock)
        {
            _inBlock = true;
            _blockFailed = false;
            _fieldSeen = false;
            _headerListSize = 0;
            LastError = HpackError.None;
            HeaderListTruncated = false;
            UnknownIndexes = 0;
        }

        if (!_blockFailed)
        {
            if (_pendingLength > 0)
            {
                Append(fragment);
                int used = DecodeRepresentations(_pending.AsSpan(0, _pendingLength), headers);
                if (used < 0) Fail();
                else
                {
                    _pending.AsSpan(used, _pendingLength - used).CopyTo(_pending);
                    _pendingLength -= used;
                }
            }
            else
            {
                int used = DecodeRepresentations(fragment, headers);
                if (used < 0) Fail();
                else Append(fragment[used..]);
            }
        }

        bool failed = _blockFailed;
        if (endOfBlock)
        {
            if (!failed && _pendingLength > 0)
            {
                LastError = HpackError.TruncatedBlock;
                failed = true;
            }
            _pendingLength = 0;
            _inBlock = false;
        }
        return failed ? HpackStatus.InvalidData : HpackStatus.Ok;
    }

    private void Fail()
    {
        _blockFailed = true;
        _pendingLength = 0;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return;
        if (_pending.Length < _pendingLength + bytes.Length)
        {
            var bigger = new byte[Math.Max(_pending.Length * 2, _pendingLength + bytes.Length)];
            _pending.AsSpan(0, _pendingLength).CopyTo(bigger);
            _pending = bigger;
        }
        bytes.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += bytes.Length;
    }

    /// <summary>Decodes whole representations from <paramref name="input"/>; returns bytes used, or -1 on error.</summary>
    private int DecodeRepresentations(ReadOnlySpan<byte> input, List<KeyValuePair<string, string>> headers)
    {
        int offset = 0;
        while (offset < input.Length)
        {
            int used = DecodeRepresentation(input[offset..], headers);
            if (used < 0) return -1;
            if (used == 0) break; // needs more bytes
            offset += used;
        }
        return offset;
    }

    /// <summary>One field representation (§6). Returns bytes used, 0 when incomplete, -1 on error.</summary>
    private int DecodeRepresentation(ReadOnlySpan<byte> input, List<KeyValuePair<string, string>> headers)
    {
        byte first = input[0];
        if ((first & 0x80) != 0)
        {
            // §6.1 Indexed Header Field
            //   0   1   2   3   4   5   6   7
            // +---+---+---+---+---+---+---+---+
            // | 1 |        Index (7+)         |
            // +---+---------------------------+
            int n = TryReadInteger(input, 7, out int index);
            if (n <= 0) return n;
            if (!TryLookup(index, out string name, out string value, out int indexedNameOctets, out int indexedValueOctets, out bool unknown)) return -1;
            _fieldSeen = true;
            if (unknown) UnknownIndexes++;
            else Emit(headers, name, value, indexedNameOctets, indexedValueOctets);
            return n;
        }
        if ((first & 0xE0) == 0x20)
        {
            // §6.3 Dynamic Table Size Update
            // +---+---+---+---+---+---+---+---+
            // | 0 | 0 | 1 |   Max size (5+)   |
            // +---+---------------------------+
            int n = TryReadInteger(input, 5, out int size);
            if (n <= 0) return n;
            if (_fieldSeen) { LastError = HpackError.TableSizeUpdateNotAtStart; return -1; }
            if (size > MaxTableSizeLimit)
            {
                // mid-stream the SETTINGS that allowed a larger table may predate the capture
                if (!TolerateUnknownIndexes) { LastError = HpackError.TableSizeTooLarge; return -1; }
                MaxTableSizeLimit = size;
            }
            Table.Resize(size);
            return n;
        }

        // §6.2.1 with incremental indexing: 01 + index(6+); §6.2.2 without indexing: 0000 + index(4+);
        // §6.2.3 never indexed: 0001 + index(4+). Index 0 = the name follows as a string literal.
        // +---+---+---+---+---+---+---+---+
        // | 0 | 1 |      Index (6+)       |
        // +---+---+-----------------------+
        // | H |     Value Length (7+)     |
        // +---+---------------------------+
        // | Value String (Length octets)  |
        // +-------------------------------+
        bool indexing = (first & 0xC0) == 0x40;
        int prefix = indexing ? 6 : 4;
        int used = TryReadInteger(input, prefix, out int nameIndex);
        if (used <= 0) return used;
        string fieldName;
        int nameOctets;
        bool nameUnknown = false;
        if (nameIndex == 0)
        {
            int s = TryReadString(input[used..], out fieldName, out nameOctets);
            if (s <= 0) return s;
            used += s;
        }
        else
        {
            if (!TryLookup(nameIndex, out fieldName, out _, out nameOctets, out _, out nameUnknown)) return -1;
        }
        int v = TryReadString(input[used..], out string fieldValue, out int valueOctets);
        if (v <= 0) return v;
        used += v;
        _fieldSeen = true;
        if (nameUnknown)
        {
            UnknownIndexes++;
            // keep the table's indices right; the name is not known
            if (indexing) Table.Insert("", fieldValue, 0, valueOctets);
            return used;
        }
        if (indexing) Table.Insert(fieldName, fieldValue, nameOctets, valueOctets);
        Emit(headers, fieldName, fieldValue, nameOctets, valueOctets);
        return used;
    }

    private void Emit(List<KeyValuePair<string, string>> headers, string name, string value, int nameOctets, int valueOctets)
    {
        _headerListSize += nameOctets + valueOctets + HpackDynamicTable.EntryOverhead;
        if (_headerListSize > _maxHeaderListSize)
        {
            HeaderListTruncated = true;
            return;
        }
        headers.Add(new KeyValuePair<string, string>(name, value));
    }

    private bool TryLookup(int index, out string name, out string value, out int nameOctets, out int valueOctets, out bool unknown)
    {
        unknown = false;
        if (index >= 1 && index <= HpackStaticTable.Count)
        {
            (name, value) = HpackStaticTable.Get(index);
            nameOctets = name.Length; // the static table is ASCII
            valueOctets = value.Length;
            return true;
        }
        int dynamicIndex = index - HpackStaticTable.Count;
        if (index > 0 && dynamicIndex <= Table.Count)
        {
            (name, value) = Table[dynamicIndex];
            nameOctets = Table.NameOctets(dynamicIndex);
            valueOctets = Table.ValueOctets(dynamicIndex);
            return true;
        }
        name = value = "";
        nameOctets = valueOctets = 0;
        if (index > 0 && TolerateUnknownIndexes)
        {
            unknown = true;
            return true;
        }
        LastError = HpackError.InvalidIndex;
        return false;
    }

    /// <summary>
    /// §5.1 integer with an N-bit prefix. Returns bytes used, 0 when incomplete, -1 on overflow.
    /// </summary>
    private int TryReadInteger(ReadOnlySpan<byte> input, int prefixBits, out int value)
    {
        int mask = (1 << prefixBits) - 1;
        value = input[0] & mask;
        if (value < mask) return 1;
        long result = mask;
        int shift = 0;
        for (int i = 1; i < input.Length; i++)
        {
            byte b = input[i];
            result += (long)(b & 0x7F) << shift;
            if (result > int.MaxValue || shift > 28)
            {
                LastError = HpackError.IntegerOverflow;
                return -1;
            }
            if ((b & 0x80) == 0)
            {
                value = (int)result;
                return i + 1;
            }
            shift += 7;
        }
        value = 0;
        return 0;
    }

    /// <summary>§5.2 string literal. Returns bytes used, 0 when incomplete, -1 on error.</summary>
    private int TryReadString(ReadOnlySpan<byte> input, out string text, out int octets)
    {
        text = "";
        octets = 0;
        if (input.IsEmpty) return 0;
        bool huffman = (input[0] & 0x80) != 0;
        int n = TryReadInteger(input, 7, out int length);
        if (n <= 0) return n;
        if (length > _maxHeaderListSize)
        {
            LastError = HpackError.StringTooLong;
            return -1;
        }
        if (input.Length - n < length) return 0;
        var raw = input.Slice(n, length);
        if (!huffman)
        {
            text = Encoding.UTF8.GetString(raw);
            octets = length;
            return n + length;
        }
        int max = HuffmanDecoder.MaxDecodedLength(length);
        byte[]? rented = null;
        Span<byte> buffer = max <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            int decoded = HuffmanDecoder.Decode(raw, buffer);
            if (decoded < 0)
            {
                LastError = HpackError.InvalidHuffman;
                return -1;
            }
            text = Encoding.UTF8.GetString(buffer[..decoded]);
            octets = decoded;
            return n + length;
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
