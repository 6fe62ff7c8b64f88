using System.Globalization;
using System.Text;

namespace TrafficStore.Store.Query;

/// <summary>
/// The compact text form for people:
/// <code>
/// query := TABLE [where COND (and COND)*] [from TIME [to TIME] | as of TIME]
///          [select COL (, COL)*] [order by COL [asc|desc]] [limit N]
/// COND  := FIELD OP VALUE | FIELD in (VALUE, ...)      OP := = != &lt; &lt;= &gt; &gt;= ^=
/// VALUE := number | 'text' | "text" | bare-word
/// </code>
/// e.g. <c>http where namespace=shop and status&gt;=500 from -15m</c>. Clauses may come in any order.
/// </summary>
public static class TextQueryParser
{
    public static TrafficQuery Parse(string text, long nowNs)
    {
        var tokens = Tokenize(text);
        int i = 0;
        if (tokens.Count == 0) throw new QueryException("empty query: start with a table name, e.g. 'connections from -15m'");
        if (tokens[0].Kind != TokenKind.Word) throw new QueryException($"a query starts with a table name, not '{tokens[0].Text}'");
        string table = tokens[i++].Text;

        var filters = new List<QueryFilter>();
        long? from = null, to = null, asOf = null;
        List<string>? select = null;
        string? orderBy = null;
        bool desc = false;
        int? limit = null;

        while (i < tokens.Count)
        {
            var kw = tokens[i];
            if (kw.Kind != TokenKind.Word) throw new QueryException($"expected a clause (where, from, to, as of, select, order by, limit) at '{kw.Text}'");
            switch (kw.Text.ToLowerInvariant())
            {
                case "where":
                case "and":
                    i++;
                    filters.Add(ReadCondition(tokens, ref i));
                    break;
                case "from":
                    i++;
                    from = QueryTime.Parse(ReadTimeToken(tokens, ref i, "from"), nowNs);
                    break;
                case "to":
                    i++;
                    to = QueryTime.Parse(ReadTimeToken(tokens, ref i, "to"), nowNs);
                    break;
                case "as":
                    i++;
                    if (i >= tokens.Count || !tokens[i].Text.Equals("of", StringComparison.OrdinalIgnoreCase))
                        throw new QueryException("expected 'of' after 'as'");
                    i++;
                    asOf = QueryTime.Parse(ReadTimeToken(tokens, ref i, "as of"), nowNs);
                    break;
                case "asof":
                case "as_of":
                    i++;
                    asOf = QueryTime.Parse(ReadTimeToken(tokens, ref i, "as of"), nowNs);
                    break;
                case "select":
                    i++;
                    select = new List<string>();
                    do
                    {
                        if (i < tokens.Count && tokens[i].Kind == TokenKind.Comma) i++;
                        if (i >= tokens.Count || tokens[i].Kind != TokenKind.Word) throw new QueryException("expected a column name after 'select'");
                        select.Add(tokens[i++].Text);
                    } while (i < tokens.Count && tokens[i].Kind == TokenKind.Comma);
                    break;
                case "order":
                    i++;
                    if (i >= tokens.Count || !tokens[i].Text.Equals("by", StringComparison.OrdinalIgnoreCase))
                        throw new QueryException("expected 'by' after 'order'");
                    i++;
                    if (i >= tokens.Count || tokens[i].Kind != TokenKind.Word) throw new QueryException("expected a column after 'order by'");
                    orderBy = tokens[i++].Text;
                    if (i < tokens.Count && tokens[i].Kind == TokenKind.Word && tokens[i].Text is "desc" or "asc" or "DESC" or "ASC")
                    {
                        desc = tokens[i].Text.Equals("desc", StringComparison.OrdinalIgnoreCase);
                        i++;
                    }
                    break;
                case "limit":
                    i++;
                    if (i >= tokens.Count || !int.TryParse(tokens[i].Text, NumberStyles.None, CultureInfo.InvariantCulture, out int n))
                        throw new QueryException("expected a non-negative integer after 'limit'");
                    limit = n;
                    i++;
                    break;
                default:
                    throw new QueryException($"unknown clause '{kw.Text}' (expected where, and, from, to, as of, select, order by or limit)");
            }
        }

        return QueryRules.CheckShape(new TrafficQuery
        {
            Table = table,
            FromNs = from,
            ToNs = to,
            AsOfNs = asOf,
            Filters = filters,
            Select = select,
            OrderBy = orderBy,
            Descending = desc,
            Limit = limit,
        });
    }

    private static string ReadTimeToken(List<Token> tokens, ref int i, string clause)
    {
        if (i >= tokens.Count || tokens[i].Kind is TokenKind.Comma or TokenKind.Op or TokenKind.Paren)
            throw new QueryException($"expected a time after '{clause}'");
        return tokens[i++].Text;
    }

    private static QueryFilter ReadCondition(List<Token> tokens, ref int i)
    {
        if (i >= tokens.Count || tokens[i].Kind != TokenKind.Word) throw new QueryException("expected a field name in a condition");
        string field = tokens[i++].Text;
        if (i >= tokens.Count) throw new QueryException($"expected an operator after '{field}'");
        if (tokens[i].Kind == TokenKind.Word && tokens[i].Text.Equals("in", StringComparison.OrdinalIgnoreCase))
        {
            i++;
            if (i >= tokens.Count || tokens[i].Text != "(") throw new QueryException($"expected '(' after '{field} in'");
            i++;
            var values = new List<QueryValue>();
            while (i < tokens.Count && tokens[i].Text != ")")
            {
                if (tokens[i].Kind == TokenKind.Comma) { i++; continue; }
                if (tokens[i].Kind is TokenKind.Op or TokenKind.Paren) throw new QueryException($"unexpected '{tokens[i].Text}' in the list for '{field}'");
                values.Add(QueryValue.Of(tokens[i++].Text));
            }
            if (i >= tokens.Count) throw new QueryException($"the list for '{field} in' is not closed with ')'");
            i++;
            if (values.Count == 0) throw new QueryException($"the list for '{field} in' is empty");
            return new QueryFilter(field, FilterOp.In, values);
        }
        if (tokens[i].Kind != TokenKind.Op) throw new QueryException($"expected an operator after '{field}', found '{tokens[i].Text}'");
        var op = QueryRules.ParseOp(tokens[i++].Text);
        if (i >= tokens.Count || tokens[i].Kind is TokenKind.Op or TokenKind.Comma or TokenKind.Paren)
            throw new QueryException($"expected a value after '{field} {QueryRules.OpText(op)}'");
        return new QueryFilter(field, op, new[] { QueryValue.Of(tokens[i++].Text) });
    }

    private enum TokenKind : byte { Word, Quoted, Op, Comma, Paren }

    private readonly record struct Token(TokenKind Kind, string Text);

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == ',') { tokens.Add(new Token(TokenKind.Comma, ",")); i++; continue; }
            if (c is '(' or ')') { tokens.Add(new Token(TokenKind.Paren, c.ToString())); i++; continue; }
            if (c is '\'' or '"')
            {
                var sb = new StringBuilder();
                int j = i + 1;
                while (true)
                {
                    if (j >= text.Length) throw new QueryException($"unterminated string starting at position {i}");
                    if (text[j] == c)
                    {
                        if (j + 1 < text.Length && text[j + 1] == c) { sb.Append(c); j += 2; continue; }
                        break;
                    }
                    sb.Append(text[j++]);
                }
                tokens.Add(new Token(TokenKind.Quoted, sb.ToString()));
                i = j + 1;
                continue;
            }
            if (c is '=' or '!' or '<' or '>' or '^')
            {
                int j = i + 1;
                if (j < text.Length && text[j] is '=' or '>') j++;
                var op = text[i..j];
                if (op is "!" or "^") throw new QueryException($"'{op}' is not an operator (did you mean '{op}='?)");
                tokens.Add(new Token(TokenKind.Op, op));
                i = j;
                continue;
            }
            int start = i;
            // A leading sign belongs to the word (relative times like -15m, negative numbers).
            if (c is '-' or '+') i++;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not (',' or '(' or ')' or '=' or '!' or '<' or '>' or '^' or '\'' or '"')) i++;
            if (i == start) throw new QueryException($"unexpected character '{c}' at position {i}");
            tokens.Add(new Token(TokenKind.Word, text[start..i]));
        }
        return tokens;
    }
}
