package runplan

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Helpers of the prompt: schema properties, JSON values, Markdown text.

// schemaProperty is one property of an object schema, as the prompt lists it.
type schemaProperty struct {
	Name        string
	Type        string
	Description string
	Required    bool
	File        bool // an upload (format uri with a contentMediaType, or a list of them)
}

// line is "- **name** (type, required|optional): description".
func (p schemaProperty) line() string {
	req := "optional"
	if p.Required {
		req = "required"
	}
	line := "- **" + p.Name + "** (" + p.Type + ", " + req + ")"
	if d := strings.TrimSpace(p.Description); d != "" {
		line += ": " + oneLine(d)
	}
	return line
}

// schemaProperties lists the properties of an object schema: those of order first, then the others in the
// schema's own order.
func schemaProperties(schema json.RawMessage, order []string) []schemaProperty {
	obj, ok := decodeJSON(schema).(map[string]any)
	if !ok {
		return nil
	}
	props, _ := obj["properties"].(map[string]any)
	if len(props) == 0 {
		return nil
	}
	required := map[string]bool{}
	if list, ok := obj["required"].([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	var rawTop map[string]json.RawMessage
	_ = json.Unmarshal(schema, &rawTop)
	var names []string
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), order...), objectKeys(rawTop["properties"])...) {
		if _, ok := props[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	out := make([]schemaProperty, 0, len(names))
	for _, n := range names {
		ps, _ := props[n].(map[string]any)
		desc, _ := ps["description"].(string)
		out = append(out, schemaProperty{Name: n, Type: schemaType(ps), Description: desc, Required: required[n], File: isFileSchema(ps)})
	}
	return out
}

func schemaType(s map[string]any) string {
	switch t := s["type"].(type) {
	case string:
		return t
	case []any:
		var parts []string
		for _, x := range t {
			if str, ok := x.(string); ok {
				parts = append(parts, str)
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, " | ")
		}
	}
	return "any"
}

// isFileSchema applies the AFPS file-field convention: format "uri" with a contentMediaType, or an array of
// such items.
func isFileSchema(s map[string]any) bool {
	if s == nil {
		return false
	}
	if _, ok := s["contentMediaType"]; ok && s["format"] == "uri" {
		return true
	}
	if items, ok := s["items"].(map[string]any); ok && s["type"] == "array" {
		return isFileSchema(items)
	}
	return false
}

// hasProperties reports whether an object schema declares at least one property.
func hasProperties(schema json.RawMessage) bool {
	obj, ok := decodeJSON(schema).(map[string]any)
	if !ok {
		return false
	}
	props, _ := obj["properties"].(map[string]any)
	return len(props) > 0
}

// objectKeys returns the member names of a JSON object in document order (duplicates once).
func objectKeys(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// decodeJSON decodes raw with numbers kept as written; nil when it is not JSON.
func decodeJSON(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

func decodeObject(raw json.RawMessage) map[string]any {
	m, _ := decodeJSON(raw).(map[string]any)
	return m
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- text helpers ---

// inlineValue renders a value as inline code: a string as itself (JSON-quoted when it spans lines), anything
// else as compact JSON.
func inlineValue(v any) string {
	s, ok := v.(string)
	if !ok || strings.ContainsAny(s, "\r\n") {
		s = compactJSON(v)
	}
	return codeSpan(s)
}

// codeSpan wraps s in a backtick fence longer than any backtick run inside it (CommonMark code span).
func codeSpan(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// fenced puts text in a ```json block.
func fenced(text string) string {
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	return fence + "json\n" + text + "\n" + fence
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// formatSize is B below 1 KB, KB with one decimal below 1 MB, else MB with two decimals (1 KB = 1024 B).
func formatSize(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1024*1024:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/(1024*1024), 'f', 2, 64) + " MB"
}

// roundSize is a size that is a whole number of MB or KB, as such ("5 MB", "256 KB").
func roundSize(n int64) string {
	switch {
	case n > 0 && n%(1024*1024) == 0:
		return strconv.FormatInt(n/(1024*1024), 10) + " MB"
	case n > 0 && n%1024 == 0:
		return strconv.FormatInt(n/1024, 10) + " KB"
	}
	return formatSize(n)
}

// isoTime is JavaScript's toISOString: UTC with milliseconds.
func isoTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
