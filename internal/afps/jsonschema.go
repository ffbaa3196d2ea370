package afps

import (
	"math"
	"slices"
	"strconv"
)

// maxSchemaDepth bounds the recursion into nested JSON Schemas.
const maxSchemaDepth = 64

var jsonSchemaTypes = []string{"string", "number", "integer", "boolean", "object", "array", "null"}

// Keywords whose value is one subschema, a map of subschemas, or a non-empty array of subschemas
// (JSON Schema 2020-12 core and applicator vocabularies).
var (
	schemaKeywords      = []string{"additionalProperties", "not", "contains", "propertyNames", "if", "then", "else", "items", "unevaluatedItems", "unevaluatedProperties", "contentSchema"}
	schemaMapKeywords   = []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
	schemaArrayKeywords = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	nonNegIntKeywords   = []string{"minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minContains", "maxContains"}
	numberKeywords      = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
	stringKeywords      = []string{"$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$schema", "$comment", "title", "description", "pattern", "format", "contentMediaType", "contentEncoding"}
	boolKeywords        = []string{"uniqueItems", "readOnly", "writeOnly", "deprecated"}
)

// jsonSchema checks that s is a structurally valid JSON Schema 2020-12 document: the keyword value types of the
// meta-schema (what AJV's validateSchema checks). Unknown keywords are allowed, as in the meta-schema.
func (c *checker) jsonSchema(path string, s map[string]any, depth int) {
	if depth > maxSchemaDepth {
		c.fail(path, "JSON Schema nested too deeply")
		return
	}
	if t, ok := s["type"]; ok {
		c.schemaType(join(path, "type"), t)
	}
	for _, k := range schemaKeywords {
		if v, ok := s[k]; ok {
			c.subschema(join(path, k), v, depth)
		}
	}
	for _, k := range schemaMapKeywords {
		v, ok := s[k]
		if !ok {
			continue
		}
		m, isObj := v.(map[string]any)
		if !isObj {
			c.expect(join(path, k), "object", v)
			continue
		}
		for _, name := range sortedKeys(m) {
			c.subschema(join(join(path, k), name), m[name], depth)
		}
	}
	for _, k := range schemaArrayKeywords {
		v, ok := s[k]
		if !ok {
			continue
		}
		a, isArr := v.([]any)
		if !isArr || len(a) == 0 {
			c.fail(join(path, k), "Must be a non-empty array of JSON Schemas")
			continue
		}
		for i, e := range a {
			c.subschema(index(join(path, k), i), e, depth)
		}
	}
	for _, k := range nonNegIntKeywords {
		if v, ok := s[k]; ok {
			if f, isNum := numberOf(v); !isNum || f < 0 || f != math.Trunc(f) {
				c.fail(join(path, k), "Must be a non-negative integer")
			}
		}
	}
	for _, k := range numberKeywords {
		if v, ok := s[k]; ok {
			if _, isNum := numberOf(v); !isNum {
				c.expect(join(path, k), "number", v)
			}
		}
	}
	if v, ok := s["multipleOf"]; ok {
		if f, isNum := numberOf(v); !isNum || f <= 0 {
			c.fail(join(path, "multipleOf"), "Must be a number greater than 0")
		}
	}
	for _, k := range stringKeywords {
		if v, ok := s[k]; ok {
			if _, isStr := v.(string); !isStr {
				c.expect(join(path, k), "string", v)
			}
		}
	}
	for _, k := range boolKeywords {
		if v, ok := s[k]; ok {
			if _, isBool := v.(bool); !isBool {
				c.expect(join(path, k), "boolean", v)
			}
		}
	}
	if v, ok := s["required"]; ok {
		c.uniqueStrings(join(path, "required"), v)
	}
	for _, k := range []string{"enum", "examples"} {
		if v, ok := s[k]; ok {
			if _, isArr := v.([]any); !isArr {
				c.expect(join(path, k), "array", v)
			}
		}
	}
	if v, ok := s["dependentRequired"]; ok {
		m, isObj := v.(map[string]any)
		if !isObj {
			c.expect(join(path, "dependentRequired"), "object", v)
		}
		for _, name := range sortedKeys(m) {
			c.uniqueStrings(join(join(path, "dependentRequired"), name), m[name])
		}
	}
}

func (c *checker) subschema(path string, v any, depth int) {
	switch x := v.(type) {
	case bool:
	case map[string]any:
		c.jsonSchema(path, x, depth+1)
	default:
		c.expect(path, "JSON Schema (object or boolean)", v)
	}
}

func (c *checker) schemaType(path string, v any) {
	switch x := v.(type) {
	case string:
		if !slices.Contains(jsonSchemaTypes, x) {
			c.fail(path, "Unknown JSON Schema type "+strconv.Quote(x))
		}
	case []any:
		if len(x) == 0 {
			c.fail(path, "Must be a type name or a non-empty array of type names")
		}
		seen := map[string]bool{}
		for i, e := range x {
			s, isStr := e.(string)
			if !isStr || !slices.Contains(jsonSchemaTypes, s) || seen[s] {
				c.fail(index(path, i), "Must be a distinct JSON Schema type name")
				continue
			}
			seen[s] = true
		}
	default:
		c.fail(path, "Must be a type name or an array of type names")
	}
}

func (c *checker) uniqueStrings(path string, v any) {
	a, isArr := v.([]any)
	if !isArr {
		c.expect(path, "array", v)
		return
	}
	seen := map[string]bool{}
	for i, e := range a {
		s, isStr := e.(string)
		if !isStr {
			c.expect(index(path, i), "string", e)
			continue
		}
		if seen[s] {
			c.fail(index(path, i), "Duplicate entry "+strconv.Quote(s))
		}
		seen[s] = true
	}
}
