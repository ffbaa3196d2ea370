package afps

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// member is one object member with its raw value, in document order.
type member struct {
	key string
	raw json.RawMessage
}

// objectMembers lists the members of a JSON object in document order (a later duplicate key replaces an
// earlier one in place, as JSON.parse keeps the last value).
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	pos := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		if i, dup := pos[key]; dup {
			out[i].raw = val
			continue
		}
		pos[key] = len(out)
		out = append(out, member{key: key, raw: val})
	}
	return out, nil
}

func writeMembers(buf *bytes.Buffer, ms []member) {
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSString(buf, m.key)
		buf.WriteByte(':')
		buf.Write(m.raw)
	}
	buf.WriteByte('}')
}

// keepOnly rewrites raw (if it is an object) with only the listed members; nested rewrites apply to the kept
// member of the same name. Non-objects are returned unchanged.
func keepOnly(raw json.RawMessage, keep map[string]func(json.RawMessage) json.RawMessage) json.RawMessage {
	ms, err := objectMembers(raw)
	if err != nil {
		return raw
	}
	kept := ms[:0:0]
	for _, m := range ms {
		f, ok := keep[m.key]
		if !ok {
			continue
		}
		if f != nil {
			m.raw = f(m.raw)
		}
		kept = append(kept, m)
	}
	var buf bytes.Buffer
	writeMembers(&buf, kept)
	return buf.Bytes()
}

// eachValue applies f to every member value of an object.
func eachValue(f func(json.RawMessage) json.RawMessage) func(json.RawMessage) json.RawMessage {
	return func(raw json.RawMessage) json.RawMessage {
		ms, err := objectMembers(raw)
		if err != nil {
			return raw
		}
		for i := range ms {
			ms[i].raw = f(ms[i].raw)
		}
		var buf bytes.Buffer
		writeMembers(&buf, ms)
		return buf.Bytes()
	}
}

func eachElement(f func(json.RawMessage) json.RawMessage) func(json.RawMessage) json.RawMessage {
	return func(raw json.RawMessage) json.RawMessage {
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return raw
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, e := range elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.Write(f(e))
		}
		buf.WriteByte(']')
		return buf.Bytes()
	}
}

func only(keys ...string) func(json.RawMessage) json.RawMessage {
	keep := map[string]func(json.RawMessage) json.RawMessage{}
	for _, k := range keys {
		keep[k] = nil
	}
	return func(raw json.RawMessage) json.RawMessage { return keepOnly(raw, keep) }
}

var wrapperShape = map[string]func(json.RawMessage) json.RawMessage{
	"schema":          nil,
	"fileConstraints": eachValue(only("accept", "maxSize")),
	"uiHints":         eachValue(only("placeholder")),
	"propertyOrder":   nil,
}

// strictMembers are the top-level members whose unknown sub-members upstream's schema strips.
var strictMembers = map[string]func(json.RawMessage) json.RawMessage{
	"input":  func(r json.RawMessage) json.RawMessage { return keepOnly(r, wrapperShape) },
	"output": func(r json.RawMessage) json.RawMessage { return keepOnly(r, wrapperShape) },
	"config": func(r json.RawMessage) json.RawMessage { return keepOnly(r, wrapperShape) },
	"tool":   only("name", "description", "inputSchema"),
	"setupGuide": func(r json.RawMessage) json.RawMessage {
		return keepOnly(r, map[string]func(json.RawMessage) json.RawMessage{
			"callbackUrlHint": nil,
			"steps":           eachElement(only("label", "url")),
		})
	},
}

// ValidatedJSON returns upstream's "validated copy" of the manifest, the one JSON create and ZIP import persist
// as the draft (PACKAGES.md §1.2): unknown members are dropped inside the input/output/config wrappers (and
// their fileConstraints/uiHints entries), `tool` and `setupGuide`; everything else — top-level extensions,
// dependencies, definition, providersConfiguration, the schemas themselves — is kept as written, in document
// order, with insignificant whitespace removed.
func (m *Manifest) ValidatedJSON() ([]byte, error) {
	ms, err := objectMembers(m.Raw)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if f, ok := strictMembers[ms[i].key]; ok {
			ms[i].raw = f(ms[i].raw)
		}
	}
	var buf bytes.Buffer
	writeMembers(&buf, ms)
	var out bytes.Buffer
	if err := json.Compact(&out, buf.Bytes()); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
