package isotime

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"time"
)

// Value implements driver.Valuer: a UTC time.Time truncated to the
// millisecond, or NULL for the zero Time.
func (t Time) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.norm(), nil
}

// Scan implements sql.Scanner. It accepts NULL (zero Time), time.Time and the
// textual forms SQLite stores (see ParseDB), as string or []byte.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = Time{}
		return nil
	case time.Time:
		*t = From(v)
		return nil
	case string:
		return t.scanText(v)
	case []byte:
		return t.scanText(string(v))
	default:
		return fmt.Errorf("isotime: cannot scan %T into Time", src)
	}
}

func (t *Time) scanText(s string) error {
	v, err := ParseDB(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// dbLayouts are the textual forms a timestamp may take in a database column:
// what modernc.org/sqlite writes (its "sqlite" format and its legacy
// time.Time.String form), what SQLite's own date functions produce, and
// RFC 3339. A trailing "Z" is accepted wherever an offset is.
var dbLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// ParseDB parses a timestamp as stored in a database text column. Forms
// without an offset are read as UTC.
func ParseDB(s string) (Time, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m="); i > 0 { // monotonic clock suffix of time.Time.String
		s = s[:i]
	}
	for _, layout := range dbLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return From(v), nil
		}
	}
	return Time{}, fmt.Errorf("isotime: unrecognised timestamp %q", s)
}
