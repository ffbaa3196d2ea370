package profile

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file is a small TOML reader/writer that keeps the text it does not understand. config.toml only needs
// string values under the root and under [profile.<name>] tables, but users edit the file by hand: every
// line is kept as written (comments, unknown keys and tables, arrays, inline tables...) and only the known
// keys the CLI changes are rewritten. Values are lexed per TOML 1.0 so a multi-line array or string stays in
// one entry.

// tomlDoc is a parsed file: the root table's lines, then each table in file order.
type tomlDoc struct {
	root   []*tomlEntry
	tables []*tomlTable
}

// tomlTable is a `[a.b]` (or `[[a.b]]`) header and the lines up to the next header.
type tomlTable struct {
	raw     string   // the header line, newline included
	path    []string // the decoded key path
	array   bool     // [[array of tables]]
	entries []*tomlEntry
}

// tomlEntry is one line (or several, for a multi-line value): blank, comment or key = value.
type tomlEntry struct {
	raw string // the exact text, newline included

	// For key = value lines:
	key      []string // decoded dotted key; nil for blank and comment lines
	prefix   string   // text up to the value (indentation, key, `=`, spaces)
	suffix   string   // text after the value (spaces, comment, newline)
	isString bool     // the value is a string...
	str      string   // ...with this decoded content
}

// tomlError is a syntax error with its line number (1-based).
type tomlError struct {
	line int
	msg  string
}

func (e *tomlError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

type tomlLexer struct {
	s string
	i int
}

func (l *tomlLexer) errf(format string, args ...any) error {
	return &tomlError{line: strings.Count(l.s[:min(l.i, len(l.s))], "\n") + 1, msg: fmt.Sprintf(format, args...)}
}

func (l *tomlLexer) eof() bool { return l.i >= len(l.s) }

func (l *tomlLexer) peek() byte {
	if l.eof() {
		return 0
	}
	return l.s[l.i]
}

func (l *tomlLexer) skipSpaces() {
	for !l.eof() && (l.s[l.i] == ' ' || l.s[l.i] == '\t') {
		l.i++
	}
}

// atEOL reports whether the rest of the line is empty (after spaces).
func (l *tomlLexer) atNewline() bool {
	return l.eof() || l.s[l.i] == '\n' || strings.HasPrefix(l.s[l.i:], "\r\n")
}

// endLine consumes an optional comment and the newline (or EOF).
func (l *tomlLexer) endLine() error {
	l.skipSpaces()
	if l.peek() == '#' {
		for !l.eof() && l.s[l.i] != '\n' {
			c := l.s[l.i]
			if c == '\r' && strings.HasPrefix(l.s[l.i:], "\r\n") {
				break
			}
			if isControl(c) {
				return l.errf("control character in comment")
			}
			l.i++
		}
	}
	switch {
	case l.eof():
		return nil
	case l.s[l.i] == '\n':
		l.i++
		return nil
	case strings.HasPrefix(l.s[l.i:], "\r\n"):
		l.i += 2
		return nil
	}
	return l.errf("unexpected %q after value", l.s[l.i])
}

func isControl(c byte) bool { return (c < 0x20 && c != '\t') || c == 0x7f }

func isBareKeyChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// parseKey reads a (dotted) key.
func (l *tomlLexer) parseKey() ([]string, error) {
	var parts []string
	for {
		l.skipSpaces()
		switch c := l.peek(); {
		case c == '"':
			if strings.HasPrefix(l.s[l.i:], `"""`) {
				return nil, l.errf("multi-line string used as a key")
			}
			s, err := l.basicString()
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		case c == '\'':
			if strings.HasPrefix(l.s[l.i:], "'''") {
				return nil, l.errf("multi-line string used as a key")
			}
			s, err := l.literalString()
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		case isBareKeyChar(c):
			start := l.i
			for !l.eof() && isBareKeyChar(l.s[l.i]) {
				l.i++
			}
			parts = append(parts, l.s[start:l.i])
		default:
			return nil, l.errf("expected a key")
		}
		l.skipSpaces()
		if l.peek() != '.' {
			return parts, nil
		}
		l.i++
	}
}

// basicString reads "..." and decodes its escapes.
func (l *tomlLexer) basicString() (string, error) {
	l.i++ // opening quote
	var b strings.Builder
	for {
		if l.eof() {
			return "", l.errf("unterminated string")
		}
		c := l.s[l.i]
		switch {
		case c == '"':
			l.i++
			return b.String(), nil
		case c == '\\':
			if err := l.escape(&b); err != nil {
				return "", err
			}
		case c == '\n' || c == '\r' || isControl(c):
			return "", l.errf("control character in string")
		default:
			if err := l.utf8Char(&b); err != nil {
				return "", err
			}
		}
	}
}

// utf8Char copies one valid UTF-8 character.
func (l *tomlLexer) utf8Char(b *strings.Builder) error {
	r, size := utf8.DecodeRuneInString(l.s[l.i:])
	if r == utf8.RuneError && size <= 1 {
		return l.errf("invalid UTF-8")
	}
	b.WriteString(l.s[l.i : l.i+size])
	l.i += size
	return nil
}

func (l *tomlLexer) escape(b *strings.Builder) error {
	if l.i+1 >= len(l.s) {
		return l.errf("unterminated escape")
	}
	c := l.s[l.i+1]
	l.i += 2
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case '"':
		b.WriteByte('"')
	case '\\':
		b.WriteByte('\\')
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if l.i+n > len(l.s) {
			return l.errf("short unicode escape")
		}
		v, err := strconv.ParseUint(l.s[l.i:l.i+n], 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return l.errf("invalid unicode escape")
		}
		b.WriteRune(rune(v))
		l.i += n
	default:
		return l.errf("invalid escape \\%c", c)
	}
	return nil
}

// literalString reads '...'.
func (l *tomlLexer) literalString() (string, error) {
	l.i++
	start := l.i
	for {
		if l.eof() {
			return "", l.errf("unterminated string")
		}
		c := l.s[l.i]
		switch {
		case c == '\'':
			s := l.s[start:l.i]
			l.i++
			if !utf8.ValidString(s) {
				return "", l.errf("invalid UTF-8")
			}
			return s, nil
		case c == '\n' || c == '\r' || isControl(c):
			return "", l.errf("control character in string")
		}
		l.i++
	}
}

// multilineString reads """...""" or ”'...”'.
func (l *tomlLexer) multilineString(delim string) (string, error) {
	l.i += 3
	// A newline right after the opening delimiter is trimmed.
	if strings.HasPrefix(l.s[l.i:], "\n") {
		l.i++
	} else if strings.HasPrefix(l.s[l.i:], "\r\n") {
		l.i += 2
	}
	var b strings.Builder
	for {
		if l.eof() {
			return "", l.errf("unterminated multi-line string")
		}
		if strings.HasPrefix(l.s[l.i:], delim) {
			// Up to two quotes may sit right before the closing delimiter.
			extra := 0
			for extra < 2 && l.i+3+extra < len(l.s) && l.s[l.i+3+extra] == delim[0] {
				extra++
			}
			b.WriteString(l.s[l.i : l.i+extra])
			l.i += 3 + extra
			return b.String(), nil
		}
		c := l.s[l.i]
		switch {
		case c == '\\' && delim == `"""`:
			// Line-ending backslash: skip whitespace and newlines.
			j := l.i + 1
			for j < len(l.s) && (l.s[j] == ' ' || l.s[j] == '\t') {
				j++
			}
			if j < len(l.s) && (l.s[j] == '\n' || strings.HasPrefix(l.s[j:], "\r\n")) {
				for j < len(l.s) && (l.s[j] == ' ' || l.s[j] == '\t' || l.s[j] == '\n' || l.s[j] == '\r') {
					j++
				}
				l.i = j
				continue
			}
			if err := l.escape(&b); err != nil {
				return "", err
			}
		case c == '\n':
			b.WriteByte('\n')
			l.i++
		case c == '\r' && strings.HasPrefix(l.s[l.i:], "\r\n"):
			b.WriteString("\r\n")
			l.i += 2
		case isControl(c):
			return "", l.errf("control character in string")
		default:
			if err := l.utf8Char(&b); err != nil {
				return "", err
			}
		}
	}
}

var (
	tomlBool     = regexp.MustCompile(`^(true|false)$`)
	tomlInt      = regexp.MustCompile(`^([+-]?(0|[1-9](_?[0-9])*)|0x[0-9A-Fa-f](_?[0-9A-Fa-f])*|0o[0-7](_?[0-7])*|0b[01](_?[01])*)$`)
	tomlFloat    = regexp.MustCompile(`^([+-]?(0|[1-9](_?[0-9])*)(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?|[+-]?(inf|nan))$`)
	tomlDate     = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$`)
	tomlTime     = regexp.MustCompile(`^[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$`)
	tomlDateOnly = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
)

// maxDepth bounds nested arrays and inline tables.
const maxDepth = 64

// value reads one value; for strings it returns the decoded content.
func (l *tomlLexer) value(depth int) (isString bool, str string, err error) {
	if depth > maxDepth {
		return false, "", l.errf("value nested too deeply")
	}
	switch c := l.peek(); {
	case strings.HasPrefix(l.s[l.i:], `"""`):
		s, err := l.multilineString(`"""`)
		return true, s, err
	case strings.HasPrefix(l.s[l.i:], "'''"):
		s, err := l.multilineString("'''")
		return true, s, err
	case c == '"':
		s, err := l.basicString()
		return true, s, err
	case c == '\'':
		s, err := l.literalString()
		return true, s, err
	case c == '[':
		return false, "", l.array(depth)
	case c == '{':
		return false, "", l.inlineTable(depth)
	default:
		start := l.i
		for !l.eof() && strings.IndexByte(" \t\r\n,]}#", l.s[l.i]) < 0 {
			l.i++
		}
		tok := l.s[start:l.i]
		// A local date-time may separate the date and the time with one space.
		if tomlDateOnly.MatchString(tok) && l.i+1 < len(l.s) && l.s[l.i] == ' ' && l.s[l.i+1] >= '0' && l.s[l.i+1] <= '9' {
			l.i++
			for !l.eof() && strings.IndexByte(" \t\r\n,]}#", l.s[l.i]) < 0 {
				l.i++
			}
			tok = l.s[start:l.i]
		}
		if tok == "" {
			return false, "", l.errf("expected a value")
		}
		if !(tomlBool.MatchString(tok) || tomlInt.MatchString(tok) || tomlFloat.MatchString(tok) ||
			tomlDate.MatchString(tok) || tomlTime.MatchString(tok)) {
			return false, "", l.errf("invalid value %q", tok)
		}
		return false, "", nil
	}
}

// skipArraySpace skips spaces, newlines and comments inside an array.
func (l *tomlLexer) skipArraySpace() error {
	for {
		l.skipSpaces()
		switch {
		case l.peek() == '#':
			for !l.eof() && l.s[l.i] != '\n' {
				l.i++
			}
		case l.peek() == '\n':
			l.i++
		case strings.HasPrefix(l.s[l.i:], "\r\n"):
			l.i += 2
		default:
			return nil
		}
	}
}

func (l *tomlLexer) array(depth int) error {
	l.i++
	for {
		if err := l.skipArraySpace(); err != nil {
			return err
		}
		if l.peek() == ']' {
			l.i++
			return nil
		}
		if l.eof() {
			return l.errf("unterminated array")
		}
		if _, _, err := l.value(depth + 1); err != nil {
			return err
		}
		if err := l.skipArraySpace(); err != nil {
			return err
		}
		switch l.peek() {
		case ',':
			l.i++
		case ']':
			l.i++
			return nil
		default:
			return l.errf("expected , or ] in array")
		}
	}
}

func (l *tomlLexer) inlineTable(depth int) error {
	l.i++
	l.skipSpaces()
	if l.peek() == '}' {
		l.i++
		return nil
	}
	for {
		if _, err := l.parseKey(); err != nil {
			return err
		}
		if l.peek() != '=' {
			return l.errf("expected = in inline table")
		}
		l.i++
		l.skipSpaces()
		if _, _, err := l.value(depth + 1); err != nil {
			return err
		}
		l.skipSpaces()
		switch l.peek() {
		case ',':
			l.i++
		case '}':
			l.i++
			return nil
		default:
			return l.errf("expected , or } in inline table")
		}
	}
}

// parseTOML splits src into tables and entries, checking the syntax of every value.
func parseTOML(src string) (*tomlDoc, error) {
	if !utf8.ValidString(src) {
		return nil, &tomlError{line: 1, msg: "file is not valid UTF-8"}
	}
	doc := &tomlDoc{}
	l := &tomlLexer{s: src}
	cur := &doc.root
	for !l.eof() {
		start := l.i
		l.skipSpaces()
		switch {
		case l.atNewline() || l.peek() == '#':
			if err := l.endLine(); err != nil {
				return nil, err
			}
			*cur = append(*cur, &tomlEntry{raw: src[start:l.i]})
		case l.peek() == '[':
			t := &tomlTable{}
			l.i++
			if l.peek() == '[' {
				t.array = true
				l.i++
			}
			path, err := l.parseKey()
			if err != nil {
				return nil, err
			}
			closing := "]"
			if t.array {
				closing = "]]"
			}
			if !strings.HasPrefix(l.s[l.i:], closing) {
				return nil, l.errf("expected %s after table name", closing)
			}
			l.i += len(closing)
			if err := l.endLine(); err != nil {
				return nil, err
			}
			t.raw, t.path = src[start:l.i], path
			doc.tables = append(doc.tables, t)
			cur = &t.entries
		default:
			key, err := l.parseKey()
			if err != nil {
				return nil, err
			}
			if l.peek() != '=' {
				return nil, l.errf("expected = after key")
			}
			l.i++
			l.skipSpaces()
			valueStart := l.i
			isString, str, err := l.value(0)
			if err != nil {
				return nil, err
			}
			valueEnd := l.i
			if err := l.endLine(); err != nil {
				return nil, err
			}
			*cur = append(*cur, &tomlEntry{raw: src[start:l.i], key: key, prefix: src[start:valueStart],
				suffix: src[valueEnd:l.i], isString: isString, str: str})
		}
	}
	return doc, nil
}

// tomlString renders s as smol-toml does: JSON string syntax (JSON.stringify), with DEL escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlKey renders one key segment: bare when possible, else quoted.
func tomlKey(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool { return r > 0x7f || !isBareKeyChar(byte(r)) }) < 0 {
		return k
	}
	return tomlString(k)
}

// render concatenates the document back into text.
func (d *tomlDoc) render() string {
	var b strings.Builder
	for _, e := range d.root {
		b.WriteString(e.raw)
	}
	for _, t := range d.tables {
		b.WriteString(t.raw)
		for _, e := range t.entries {
			b.WriteString(e.raw)
		}
	}
	return b.String()
}

// setString sets a string value on an existing entry, keeping its key text and trailing comment.
func (e *tomlEntry) setString(v string) {
	suffix := e.suffix
	if suffix == "" {
		suffix = "\n"
	}
	e.isString, e.str = true, v
	e.raw = e.prefix + tomlString(v) + suffix
}

// newStringEntry is a fresh `key = "value"` line.
func newStringEntry(key, v string) *tomlEntry {
	e := &tomlEntry{key: []string{key}, prefix: tomlKey(key) + " = ", suffix: "\n"}
	e.setString(v)
	return e
}

// errUnsupported reports constructs the CLI cannot rewrite safely.
var errUnsupported = errors.New("unsupported")

func blank(e *tomlEntry) bool { return e.key == nil && strings.TrimSpace(e.raw) == "" }

func endsWithNewline(entries []*tomlEntry, header string) bool {
	if len(entries) == 0 {
		return header == "" || strings.HasSuffix(header, "\n")
	}
	return strings.HasSuffix(entries[len(entries)-1].raw, "\n")
}
