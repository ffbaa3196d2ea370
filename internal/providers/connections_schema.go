package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/jsonschema"
)

// Limits of submitted credential maps.
const (
	MaxCredentialFields     = 64
	MaxCredentialValueBytes = 16 << 10
	maxCredentialKeyLen     = 64
)

var credentialKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// ValidateCredentials checks credentials a user or an admin submits against a provider's schema (the
// provider's `credentials.schema`, or its admin credential schema) and returns the map that is stored:
// every value as a string (numbers and booleans as their JSON text). field prefixes issue paths
// ("credentials" → "credentials.api_key"). Deliberately stricter than upstream, which stored any map:
//
//   - keys match ^[A-Za-z][A-Za-z0-9_]*$ (≤ 64 chars), at most MaxCredentialFields of them;
//   - values are strings, numbers or booleans (no null, objects or arrays), strings at most
//     MaxCredentialValueBytes of valid UTF-8 without NUL;
//   - when the schema declares properties, other keys are refused unless additionalProperties is true;
//   - every required field is present and not blank;
//   - the schema itself (types, enums, lengths, patterns, formats) is enforced as JSON Schema.
//
// An empty or null schema only applies the first two rules. Failures are a *ValidationError.
func ValidateCredentials(schema json.RawMessage, creds map[string]any, field string) (map[string]string, error) {
	var issues []FieldIssue
	add := func(key, code, msg string) {
		issues = append(issues, FieldIssue{Field: joinField(field, key), Code: code, Message: msg})
	}
	if len(creds) > MaxCredentialFields {
		return nil, &ValidationError{Issues: []FieldIssue{{Field: field, Code: jsonschema.CodeOutOfRange,
			Message: fmt.Sprintf("at most %d fields are accepted", MaxCredentialFields)}}}
	}
	out := make(map[string]string, len(creds))
	for _, k := range sortedKeys(creds) {
		if len(k) > maxCredentialKeyLen || !credentialKeyRE.MatchString(k) {
			add(k, jsonschema.CodeInvalidValue, "field names must match ^[A-Za-z][A-Za-z0-9_]*$ (at most 64 characters)")
			continue
		}
		s, ok := scalarString(creds[k])
		if !ok {
			add(k, jsonschema.CodeInvalidType, "must be a string, number or boolean")
			continue
		}
		switch {
		case len(s) > MaxCredentialValueBytes:
			add(k, jsonschema.CodeOutOfRange, fmt.Sprintf("must be at most %d bytes", MaxCredentialValueBytes))
			continue
		case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
			add(k, jsonschema.CodeInvalidValue, "must be valid UTF-8 text")
			continue
		}
		out[k] = s
	}

	shape := parseSchemaShape(schema)
	if len(shape.properties) > 0 && !shape.additional {
		for _, k := range sortedKeys(creds) {
			if _, declared := shape.properties[k]; !declared {
				add(k, jsonschema.CodeUnknownField, "is not a field of this provider")
			}
		}
	}
	for _, k := range shape.required {
		v, present := creds[k]
		if !present {
			add(k, jsonschema.CodeRequired, "is required")
			continue
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			add(k, jsonschema.CodeRequired, "must not be empty")
		}
	}
	if compiled := compileSchema(schema); compiled != nil && len(issues) == 0 {
		for _, fe := range compiled.Validate(jsonValue(creds)) {
			code := fe.Code
			if code == "" {
				code = jsonschema.CodeInvalidValue
			}
			issues = append(issues, FieldIssue{Field: joinField(field, fe.Path), Code: code, Message: fe.Message})
		}
	}
	if len(issues) > 0 {
		return nil, &ValidationError{Issues: dedupeIssues(issues)}
	}
	return out, nil
}

func joinField(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "." + p
}

// scalarString renders a decoded JSON scalar as the stored string.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// jsonValue re-encodes creds into the generic form the JSON Schema validator expects (numbers as
// json.Number).
func jsonValue(creds map[string]any) any {
	raw, err := json.Marshal(creds)
	if err != nil {
		return creds
	}
	v, err := jsonschema.Decode(raw)
	if err != nil {
		return creds
	}
	return v
}

// schemaShape is what the rules outside JSON Schema need from a schema.
type schemaShape struct {
	properties map[string]json.RawMessage
	required   []string
	additional bool // additionalProperties: true (or a schema) explicitly allows undeclared fields
}

func parseSchemaShape(schema json.RawMessage) schemaShape {
	var sh struct {
		Properties           map[string]json.RawMessage `json:"properties"`
		Required             []any                      `json:"required"`
		AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	}
	if len(bytes.TrimSpace(schema)) == 0 || json.Unmarshal(schema, &sh) != nil {
		return schemaShape{}
	}
	out := schemaShape{properties: sh.Properties}
	seen := map[string]bool{}
	for _, r := range sh.Required {
		if s, ok := r.(string); ok && !seen[s] {
			seen[s] = true
			out.required = append(out.required, s)
		}
	}
	sort.Strings(out.required)
	ap := bytes.TrimSpace(sh.AdditionalProperties)
	out.additional = len(ap) > 0 && !bytes.Equal(ap, []byte("false"))
	return out
}

// Compiled schemas by source text. Provider schemas are few; the cache is reset when it grows too large.
var (
	schemaCacheMu sync.Mutex
	schemaCache   = map[string]*jsonschema.Schema{}
)

const schemaCacheMax = 512

// compileSchema returns the compiled schema, or nil when there is none or it is not a valid JSON Schema (the
// structural rules still apply then).
func compileSchema(schema json.RawMessage) *jsonschema.Schema {
	src := bytes.TrimSpace(schema)
	if len(src) == 0 || bytes.Equal(src, []byte("null")) {
		return nil
	}
	key := string(src)
	schemaCacheMu.Lock()
	s, ok := schemaCache[key]
	schemaCacheMu.Unlock()
	if ok {
		return s
	}
	s, err := jsonschema.Compile(src)
	if err != nil {
		s = nil
	}
	schemaCacheMu.Lock()
	if len(schemaCache) >= schemaCacheMax {
		schemaCache = map[string]*jsonschema.Schema{}
	}
	schemaCache[key] = s
	schemaCacheMu.Unlock()
	return s
}

func dedupeIssues(in []FieldIssue) []FieldIssue {
	seen := map[string]bool{}
	out := in[:0]
	for _, is := range in {
		k := is.Field + "\x00" + is.Code
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, is)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Field < out[j].Field })
	return out
}
