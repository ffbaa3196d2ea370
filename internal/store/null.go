package store

import "encoding/json"

// NullIfEmpty is s as a query argument, with "" stored as NULL.
func NullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// NullJSON is a JSON value as a query argument (its text), with an absent value or JSON null stored as NULL.
func NullJSON(raw json.RawMessage) any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	return string(raw)
}
