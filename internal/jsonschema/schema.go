package jsonschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	js "github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// MaxSchemaBytes bounds the size of a schema document Compile accepts.
const MaxSchemaBytes = 1 << 20

// location is the base URI of every compiled schema; relative references resolve against it and are refused.
const location = "file:///appstrate/schema.json"

// Error codes of FieldError (the vocabulary of API.md §3.2).
const (
	CodeRequired     = "required"
	CodeInvalidType  = "invalid_type"
	CodeInvalidFmt   = "invalid_format"
	CodeOutOfRange   = "out_of_range"
	CodeUnknownField = "unknown_field"
	CodeInvalidValue = "invalid_value"
	CodeInvalidUnion = "invalid_union"
)

// ErrInvalidSchema is returned (wrapped) by Compile for documents that are not valid JSON Schemas.
var ErrInvalidSchema = errors.New("invalid JSON Schema")

// Schema is a compiled JSON Schema. It is safe for concurrent use.
type Schema struct {
	s *js.Schema
}

// FieldError is one validation failure: Path is the dotted/indexed location of the offending value ("" for the
// root, "a.b[0].c"), Code one of the Code* constants, Message an AJV-style sentence ("must be string").
type FieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// refusingLoader refuses every external document: schemas come from untrusted users and must not read files
// or reach the network. The draft meta-schemas are built into the library and never go through a loader.
type refusingLoader struct{}

func (refusingLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external schema references are not allowed: %s", url)
}

// Compile parses and compiles a JSON Schema document. Drafts are chosen by `$schema` (draft-04 to 2020-12);
// without it the document is 2020-12. Formats are asserted, as ajv-formats does.
func Compile(schema []byte) (s *Schema, err error) {
	defer func() {
		if r := recover(); r != nil { // the schema is untrusted: never let a library bug take the process down
			s, err = nil, fmt.Errorf("%w: %v", ErrInvalidSchema, r)
		}
	}()
	if len(schema) > MaxSchemaBytes {
		return nil, fmt.Errorf("%w: document larger than %d bytes", ErrInvalidSchema, MaxSchemaBytes)
	}
	doc, err := decode(schema)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, fmt.Errorf("%w: must be an object or a boolean", ErrInvalidSchema)
	}
	c := js.NewCompiler()
	c.UseLoader(refusingLoader{})
	c.DefaultDraft(js.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(location, doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	compiled, err := c.Compile(location)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSchema, err)
	}
	return &Schema{s: compiled}, nil
}

// Decode parses a JSON document the way Validate expects values: numbers as json.Number, so large integers
// and decimals are compared exactly.
func Decode(data []byte) (any, error) { return decode(data) }

func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("unexpected data after the JSON document")
	}
	return v, nil
}

// Validate checks v (a decoded JSON value: map[string]any, []any, string, bool, nil, json.Number or float64)
// and returns every failure, sorted by path; nil means valid.
func (s *Schema) Validate(v any) (out []FieldError) {
	defer func() {
		if r := recover(); r != nil {
			out = []FieldError{{Path: "", Code: CodeInvalidValue, Message: fmt.Sprintf("cannot be validated: %v", r)}}
		}
	}()
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *js.ValidationError
	if !errors.As(err, &ve) {
		return []FieldError{{Path: "", Code: CodeInvalidValue, Message: err.Error()}}
	}
	collect(ve, v, &out)
	if len(out) == 0 { // a failure without a leaf cause: report it at its own location
		out = append(out, FieldError{Path: path(v, ve.InstanceLocation), Code: CodeInvalidValue, Message: "must be valid"})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Message < out[j].Message
	})
	return dedupe(out)
}

// collect flattens the error tree into leaf failures. anyOf/oneOf failures are reported once at their own
// location instead of listing every branch.
func collect(e *js.ValidationError, root any, out *[]FieldError) {
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		*out = append(*out, leaf(e, root)...)
		return
	}
	if len(e.Causes) == 0 {
		*out = append(*out, leaf(e, root)...)
		return
	}
	for _, c := range e.Causes {
		collect(c, root, out)
	}
}

var printer = message.NewPrinter(language.English)

// leaf turns one failing keyword into field errors with AJV's wording.
func leaf(e *js.ValidationError, root any) []FieldError {
	at := path(root, e.InstanceLocation)
	one := func(code, msg string) []FieldError { return []FieldError{{Path: at, Code: code, Message: msg}} }
	switch k := e.ErrorKind.(type) {
	case *kind.Group, *kind.Schema, *kind.Reference, *kind.AllOf:
		return nil // containers: their causes carry the details
	case *kind.Required:
		out := make([]FieldError, 0, len(k.Missing))
		for _, p := range k.Missing {
			out = append(out, FieldError{Path: joinKey(at, p), Code: CodeRequired, Message: "must have required property '" + p + "'"})
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]FieldError, 0, len(k.Properties))
		for _, p := range k.Properties {
			out = append(out, FieldError{Path: joinKey(at, p), Code: CodeUnknownField, Message: "must NOT have additional properties"})
		}
		return out
	case *kind.Type:
		return one(CodeInvalidType, "must be "+strings.Join(k.Want, ","))
	case *kind.Format:
		return one(CodeInvalidFmt, `must match format "`+k.Want+`"`)
	case *kind.Enum:
		return one(CodeInvalidValue, "must be equal to one of the allowed values")
	case *kind.Const:
		return one(CodeInvalidValue, "must be equal to constant")
	case *kind.Pattern:
		return one(CodeInvalidFmt, `must match pattern "`+k.Want+`"`)
	case *kind.Minimum:
		return one(CodeOutOfRange, "must be >= "+rat(k.Want.RatString()))
	case *kind.Maximum:
		return one(CodeOutOfRange, "must be <= "+rat(k.Want.RatString()))
	case *kind.ExclusiveMinimum:
		return one(CodeOutOfRange, "must be > "+rat(k.Want.RatString()))
	case *kind.ExclusiveMaximum:
		return one(CodeOutOfRange, "must be < "+rat(k.Want.RatString()))
	case *kind.MultipleOf:
		return one(CodeOutOfRange, "must be multiple of "+rat(k.Want.RatString()))
	case *kind.MinLength:
		return one(CodeOutOfRange, "must NOT have fewer than "+strconv.Itoa(k.Want)+" characters")
	case *kind.MaxLength:
		return one(CodeOutOfRange, "must NOT have more than "+strconv.Itoa(k.Want)+" characters")
	case *kind.MinItems:
		return one(CodeOutOfRange, "must NOT have fewer than "+strconv.Itoa(k.Want)+" items")
	case *kind.MaxItems:
		return one(CodeOutOfRange, "must NOT have more than "+strconv.Itoa(k.Want)+" items")
	case *kind.MinProperties:
		return one(CodeOutOfRange, "must NOT have fewer than "+strconv.Itoa(k.Want)+" properties")
	case *kind.MaxProperties:
		return one(CodeOutOfRange, "must NOT have more than "+strconv.Itoa(k.Want)+" properties")
	case *kind.UniqueItems:
		return one(CodeInvalidValue, fmt.Sprintf("must NOT have duplicate items (items ## %d and %d are identical)", k.Duplicates[1], k.Duplicates[0]))
	case *kind.AnyOf:
		return one(CodeInvalidUnion, "must match a schema in anyOf")
	case *kind.OneOf:
		return one(CodeInvalidUnion, "must match exactly one schema in oneOf")
	case *kind.Not:
		return one(CodeInvalidValue, "must NOT be valid")
	case *kind.FalseSchema:
		return one(CodeInvalidValue, "boolean schema is false")
	case *kind.DependentRequired:
		out := make([]FieldError, 0, len(k.Missing))
		for _, p := range k.Missing {
			out = append(out, FieldError{Path: joinKey(at, p), Code: CodeRequired,
				Message: "must have property " + p + " when property " + k.Prop + " is present"})
		}
		return out
	case *kind.Dependency:
		out := make([]FieldError, 0, len(k.Missing))
		for _, p := range k.Missing {
			out = append(out, FieldError{Path: joinKey(at, p), Code: CodeRequired,
				Message: "must have property " + p + " when property " + k.Prop + " is present"})
		}
		return out
	}
	return one(CodeInvalidValue, e.ErrorKind.LocalizedString(printer))
}

// rat prints a big.Rat string as a JSON-ish number ("3/2" → "1.5").
func rat(s string) string {
	num, den, ok := strings.Cut(s, "/")
	if !ok {
		return s
	}
	n, err1 := strconv.ParseFloat(num, 64)
	d, err2 := strconv.ParseFloat(den, 64)
	if err1 != nil || err2 != nil || d == 0 {
		return s
	}
	return strconv.FormatFloat(n/d, 'f', -1, 64)
}

// path renders an instance location as `a.b[0].c`, walking the value to tell array indexes from keys.
func path(root any, loc []string) string {
	var b strings.Builder
	cur := root
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
		case map[string]any:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			cur = c[tok]
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
			cur = nil
		}
	}
	return b.String()
}

func joinKey(base, key string) string {
	if base == "" {
		return key
	}
	return base + "." + key
}

func dedupe(in []FieldError) []FieldError {
	out := in[:0]
	for i, e := range in {
		if i > 0 && e == in[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// JoinPath prefixes a FieldError path with a root name ("config" + "a[0]" → "config.a[0]"; "" → "config").
func JoinPath(prefix, p string) string {
	switch {
	case p == "":
		return prefix
	case prefix == "":
		return p
	case strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}
