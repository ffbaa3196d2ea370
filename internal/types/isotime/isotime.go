package isotime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Layout is the wire format: RFC 3339, UTC, exactly three fraction digits.
const Layout = "2006-01-02T15:04:05.000Z"

// Time is a UTC instant with millisecond precision. Build it with Now or From
// so the invariant holds; the embedded time.Time gives access to the usual
// methods (Before, Add, Unix...).
type Time struct {
	time.Time
}

// Now returns the current time, UTC, truncated to the millisecond.
func Now() Time { return From(time.Now()) }

// From converts t to UTC and truncates it to the millisecond. The zero
// time.Time stays zero.
func From(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return Time{t.UTC().Truncate(time.Millisecond)}
}

// Parse reads an RFC 3339 timestamp with any fraction and any offset. The
// result must fall within years 0..9999 UTC.
func Parse(s string) (Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Time{}, fmt.Errorf("isotime: parse %q: %w", s, err)
	}
	return checkYear(From(t))
}

// checkYear rejects instants the wire format cannot represent.
func checkYear(t Time) (Time, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return Time{}, fmt.Errorf("isotime: year %d outside [0,9999]", y)
	}
	return t, nil
}

// String returns the wire format, or "" for the zero Time.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	return t.norm().Format(Layout)
}

// Equal reports whether t and u are the same instant once normalised.
func (t Time) Equal(u Time) bool { return t.norm().Equal(u.norm()) }

// norm re-applies the invariant, for values built as Time{x} by hand.
func (t Time) norm() time.Time { return From(t.Time).Time }

// MarshalJSON writes "2026-06-03T12:00:00.000Z", or null for the zero Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	if _, err := checkYear(t); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(Layout)+2)
	b = append(b, '"')
	b = t.norm().AppendFormat(b, Layout)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts null (zero Time) or an RFC 3339 string with any
// fraction and offset.
func (t *Time) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("isotime: expected a JSON string or null: %w", err)
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText and UnmarshalText let Time be used in query strings, map keys
// and text encodings; the zero Time is the empty string.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText parses an RFC 3339 timestamp; the empty string is the zero Time.
func (t *Time) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*t = Time{}
		return nil
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}
