package packages

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Small helpers of the installation and agent-settings code: nullable columns, stored JSON documents and
// order-preserving edits of manifest objects.

func apPrefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func apStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func apInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

func apNullStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// apObject returns a stored JSON object, or {} when it is empty or not an object.
func apObject(raw []byte) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return json.RawMessage("{}")
	}
	return json.RawMessage(t)
}

// apCompact compacts a JSON document (unchanged when it is not valid JSON).
func apCompact(raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// apMember is one member of a JSON object, in document order.
type apMember struct {
	Key   string
	Value json.RawMessage
}

// apMembers parses a JSON object into its members in document order (later duplicates replace earlier ones,
// as JSON.parse does).
func apMembers(raw []byte) ([]apMember, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, errors.New("not a JSON object")
	}
	var out []apMember
	index := map[string]int{}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if i, dup := index[key]; dup {
			out[i].Value = v
			continue
		}
		index[key] = len(out)
		out = append(out, apMember{Key: key, Value: v})
	}
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	return out, nil
}

// apEncodeMembers writes members back as a compact JSON object.
func apEncodeMembers(members []apMember) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := apMarshal(m.Key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(apCompact(m.Value))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// apMarshal encodes v without HTML escaping (manifests keep `<`, `>` and `&` as written).
func apMarshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// apMemberOf returns the value of key in a JSON object (nil when absent or raw is not an object).
func apMemberOf(raw []byte, key string) json.RawMessage {
	members, err := apMembers(raw)
	if err != nil {
		return nil
	}
	for _, m := range members {
		if m.Key == key {
			return m.Value
		}
	}
	return nil
}

// apSetMember sets (or, with value nil, removes) key in a JSON object, keeping the other members and their
// order; a new key is appended. raw empty means {}.
func apSetMember(raw []byte, key string, value json.RawMessage) ([]byte, error) {
	members := []apMember{}
	if len(bytes.TrimSpace(raw)) > 0 {
		var err error
		if members, err = apMembers(raw); err != nil {
			return nil, fmt.Errorf("edit %q: %w", key, err)
		}
	}
	out := members[:0]
	found := false
	for _, m := range members {
		if m.Key == key {
			found = true
			if value == nil {
				continue
			}
			m.Value = value
		}
		out = append(out, m)
	}
	if !found && value != nil {
		out = append(out, apMember{Key: key, Value: value})
	}
	return apEncodeMembers(out)
}

// apDependencyIDs returns the package ids of manifest.dependencies.<kind> in document order.
func apDependencyIDs(manifest []byte, kind string) []string {
	out := []string{}
	deps := apMemberOf(manifest, "dependencies")
	if deps == nil {
		return out
	}
	members, err := apMembers(apMemberOf(deps, kind))
	if err != nil {
		return out
	}
	for _, m := range members {
		out = append(out, m.Key)
	}
	return out
}

// apDependencyMap returns manifest.dependencies.<kind> as a JSON object ({} when absent or malformed).
func apDependencyMap(manifest []byte, kind string) json.RawMessage {
	return apObject(apMemberOf(apMemberOf(manifest, "dependencies"), kind))
}
