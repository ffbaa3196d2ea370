package jsonschema

import (
	"encoding/json"
	"sort"

	js "github.com/santhosh-tekuri/jsonschema/v6"
)

// maxDefaultsDepth bounds the walk of ApplyDefaults (values nested deeper are left alone).
const maxDefaultsDepth = 64

// ApplyDefaults fills `default` values into value as AJV's `useDefaults: true` does: for every object the
// schema describes through `properties`, a missing property whose subschema has a `default` gets a deep copy
// of it, and the walk continues into the property values (so defaults nested in a default object apply too).
// Defaults are followed through `$ref`, `$dynamicRef`, `allOf` and array `items`/`prefixItems` (a missing
// trailing tuple item with a default is appended); like AJV, `anyOf`, `oneOf`, `not` and `if/then/else`
// are not entered. value is modified in place where possible; the (possibly new) value is returned.
func ApplyDefaults(s *Schema, value any) any {
	if s == nil || s.s == nil {
		return value
	}
	return applyDefaults(s.s, value, 0, map[*js.Schema]bool{})
}

// applyDefaults walks one (schema, value) pair; seen guards against $ref/allOf loops on the same value.
func applyDefaults(s *js.Schema, value any, depth int, seen map[*js.Schema]bool) any {
	if s == nil || depth > maxDefaultsDepth || seen[s] {
		return value
	}
	seen[s] = true
	defer delete(seen, s)

	value = applyDefaults(s.Ref, value, depth, seen)
	if s.DynamicRef != nil {
		value = applyDefaults(s.DynamicRef.Ref, value, depth, seen)
	}
	value = applyDefaults(s.RecursiveRef, value, depth, seen)
	for _, sub := range s.AllOf {
		value = applyDefaults(sub, value, depth, seen)
	}
	switch v := value.(type) {
	case map[string]any:
		for _, name := range sortedKeys(s.Properties) {
			prop := s.Properties[name]
			if _, ok := v[name]; !ok {
				if d, has := defaultOf(prop); has {
					v[name] = d
				} else {
					continue
				}
			}
			v[name] = applyDefaults(prop, v[name], depth+1, map[*js.Schema]bool{})
		}
		return v
	case []any:
		tuple := s.PrefixItems
		rest := s.Items2020
		switch items := s.Items.(type) {
		case []*js.Schema:
			tuple = items
		case *js.Schema:
			rest = items
		}
		for i := len(v); i < len(tuple); i++ { // missing trailing tuple items, in order, while they have defaults
			d, has := defaultOf(tuple[i])
			if !has {
				break
			}
			v = append(v, d)
		}
		for i := range v {
			sub := rest
			if i < len(tuple) {
				sub = tuple[i]
			}
			if sub != nil {
				v[i] = applyDefaults(sub, v[i], depth+1, map[*js.Schema]bool{})
			}
		}
		return v
	}
	return value
}

// defaultOf returns a deep copy of s's default (looking through a bare $ref as AJV's inlining does).
func defaultOf(s *js.Schema) (any, bool) {
	for i := 0; s != nil && i < 8; i++ {
		if s.Default != nil {
			return deepCopy(*s.Default), true
		}
		s = s.Ref
	}
	return nil, false
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	case json.Number, string, bool, float64, nil:
		return t
	}
	return v
}

func sortedKeys(m map[string]*js.Schema) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
