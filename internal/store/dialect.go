package store

import (
	"strconv"
	"strings"
)

// Dialect names the SQL database behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string { return string(d) }

// Rebind rewrites the "?" placeholders of query into the dialect's syntax:
// unchanged on SQLite, $1..$n on PostgreSQL. Question marks inside
// single-quoted strings, double-quoted identifiers and comments are kept.
// Dollar-quoted strings are not recognised.
func (d Dialect) Rebind(query string) string {
	if d != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); {
		end := skipLiteral(query, i)
		if end > i {
			b.WriteString(query[i:end])
			i = end
			continue
		}
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte(query[i])
		}
		i++
	}
	return b.String()
}

// skipLiteral returns the end of the quoted string, quoted identifier or
// comment starting at query[i], or i when none starts there. An unterminated
// one runs to the end of query. A doubled quote ('it”s') is read as two
// adjacent strings, which leaves the placeholders outside them unaffected.
func skipLiteral(query string, i int) int {
	switch rest := query[i:]; {
	case rest[0] == '\'' || rest[0] == '"':
		return closeAt(query, i+1, rest[:1])
	case strings.HasPrefix(rest, "--"):
		return closeAt(query, i+2, "\n")
	case strings.HasPrefix(rest, "/*"):
		return closeAt(query, i+2, "*/")
	}
	return i
}

// closeAt returns the index just past the first occurrence of end at or after
// from, or len(query).
func closeAt(query string, from int, end string) int {
	j := strings.Index(query[from:], end)
	if j < 0 {
		return len(query)
	}
	return from + j + len(end)
}
