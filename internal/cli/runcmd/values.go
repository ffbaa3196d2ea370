package runcmd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxValuesFile bounds an --input-file or stdin document.
const maxValuesFile = 16 << 20

// ParseValues builds the JSON object of --input or --config from its flag values, in order: a value starting
// with "{" is a JSON object merged in (later keys win), "key:=<json>" sets key to a JSON value, and
// "key=text" sets key to the string text. flag names the flag in errors. nil when there are no values.
func ParseValues(flag string, vals []string) (map[string]any, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, v := range vals {
		trimmed := strings.TrimSpace(v)
		if strings.HasPrefix(trimmed, "{") {
			obj, err := DecodeObject([]byte(trimmed))
			if err != nil {
				return nil, fmt.Errorf("--%s %s: %w", flag, abbreviate(v), err)
			}
			for k, x := range obj {
				out[k] = x
			}
			continue
		}
		key, raw, typed := strings.Cut(v, ":=")
		if !typed {
			var ok bool
			key, raw, ok = strings.Cut(v, "=")
			if !ok {
				return nil, fmt.Errorf("--%s %s: expected a JSON object, key=value or key:=<json>", flag, abbreviate(v))
			}
		}
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, fmt.Errorf("--%s %s: the key is empty", flag, abbreviate(v))
		}
		if !typed {
			out[key] = raw
			continue
		}
		var x any
		if err := json.Unmarshal([]byte(raw), &x); err != nil {
			return nil, fmt.Errorf("--%s %s: the value after := must be JSON: %v", flag, abbreviate(v), err)
		}
		out[key] = x
	}
	return out, nil
}

// DecodeObject decodes one JSON object (nothing after it).
func DecodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("must be a JSON object")
	}
	return obj, nil
}

// ReadObject reads a JSON object from r (a file or stdin), named name in errors.
func ReadObject(name string, r io.Reader) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxValuesFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxValuesFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxValuesFile)
	}
	obj, err := DecodeObject(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return obj, nil
}

// ReadObjectFile reads a JSON object from a file ("-" is stdin).
func ReadObjectFile(path string, stdin io.Reader) (map[string]any, error) {
	if path == "-" {
		return ReadObject("stdin", stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadObject(path, f)
}

// Merge returns base with over merged in depth: objects merge key by key, anything else is replaced.
func Merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bo, ok := out[k].(map[string]any); ok {
			if oo, ok := v.(map[string]any); ok {
				out[k] = Merge(bo, oo)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func abbreviate(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%q…", s[:40])
	}
	return fmt.Sprintf("%q", s)
}
