package runplan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Limits of template rendering: prompt.md is written by agent authors and the view holds run input, so a
// template must not be able to nest without end or multiply its output through nested lists.
const (
	maxMustacheDepth  = 64      // nested sections
	maxMustacheOutput = 4 << 20 // bytes of rendered text
)

// MustacheError is a template that cannot be rendered: a malformed tag, an unclosed or mismatched section,
// or a template past the limits. Line is 1-based.
type MustacheError struct {
	Line    int
	Message string
}

func (e *MustacheError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Message
}

// RenderMustache renders tmpl with logic-less Mustache against view, a JSON-like value (map[string]any,
// []any, string, json.Number, float64, bool, nil — what encoding/json decodes to). Supported: variables
// `{{name}}` with dotted names and `{{.}}`, `{{{name}}}` and `{{&name}}` (the same: nothing is HTML-escaped),
// sections `{{#name}}…{{/name}}` (repeated per list item, entered for an object, shown once for another
// truthy value), inverted sections `{{^name}}…{{/name}}`, comments `{{! … }}`, delimiter changes
// `{{=<% %>=}}` and the spec's standalone-line rule. Partials render nothing. A missing name renders "",
// objects and lists render as compact JSON (never "[object Object]"). Falsy, as in mustache.js: missing,
// null, false, "", 0 and empty lists.
func RenderMustache(tmpl string, view any) (string, error) {
	nodes, err := parseMustache(tmpl)
	if err != nil {
		return "", err
	}
	r := &mustacheRenderer{}
	if err := r.render(nodes, []any{view}); err != nil {
		return "", err
	}
	return r.out.String(), nil
}

type mustacheKind int

const (
	mText mustacheKind = iota
	mVar
	mSection
	mInverted
)

type mustacheNode struct {
	kind     mustacheKind
	text     string // mText: the text; otherwise the tag's name
	line     int
	children []*mustacheNode
}

// parseMustache turns a template into a tree of nodes.
func parseMustache(tmpl string) ([]*mustacheNode, error) {
	type frame struct {
		node  *mustacheNode
		nodes []*mustacheNode
	}
	otag, ctag := "{{", "}}"
	var stack []frame
	var nodes []*mustacheNode
	pos, lastTagEnd := 0, 0
	counted, lines := 0, 1 // tmpl[:counted] holds lines-1 newlines; tags come in order, so counting is linear
	line := func(i int) int {
		if i > counted {
			lines += strings.Count(tmpl[counted:i], "\n")
			counted = i
		}
		return lines
	}
	addText := func(s string) {
		if s != "" {
			nodes = append(nodes, &mustacheNode{kind: mText, text: s})
		}
	}
	for pos < len(tmpl) {
		rel := strings.Index(tmpl[pos:], otag)
		if rel < 0 {
			addText(tmpl[pos:])
			break
		}
		start := pos + rel
		inner := start + len(otag)
		if inner >= len(tmpl) {
			return nil, &MustacheError{Line: line(start), Message: "unclosed tag " + strconv.Quote(otag)}
		}
		sigil := tmpl[inner]
		closing := ctag
		switch sigil {
		case '{':
			closing = "}" + ctag
		case '=':
			closing = "=" + ctag
		}
		// content is what follows the sigil (or the whole tag for a variable).
		from := inner
		if strings.IndexByte("#^/!>&{=", sigil) >= 0 {
			from = inner + 1
		}
		endRel := strings.Index(tmpl[from:], closing)
		if endRel < 0 {
			return nil, &MustacheError{Line: line(start), Message: "unclosed tag " + strconv.Quote(otag)}
		}
		content := tmpl[from : from+endRel]
		end := from + endRel + len(closing)
		kind := byte(0)
		name := strings.TrimSpace(content)
		switch sigil {
		case '#', '^', '/', '!', '>', '&', '=':
			kind = sigil
		case '{':
			kind = '&'
		}

		// A section, comment, partial or delimiter tag alone on its line takes the whole line with it.
		text := tmpl[pos:start]
		if kind != 0 && kind != '&' {
			lineStart := strings.LastIndexByte(tmpl[:start], '\n') + 1
			if lineStart >= lastTagEnd && blank(tmpl[lineStart:start]) {
				rest := tmpl[end:]
				eol := strings.IndexByte(rest, '\n')
				tail := rest
				if eol >= 0 {
					tail = rest[:eol]
				}
				if blank(strings.TrimSuffix(tail, "\r")) {
					text = tmpl[pos:lineStart]
					if eol >= 0 {
						end += eol + 1
					} else {
						end = len(tmpl)
					}
				}
			}
		}
		addText(text)
		ln := line(start)

		switch kind {
		case '!', '>':
		case '=':
			parts := strings.Fields(content)
			if len(parts) != 2 || strings.Contains(content, "=") {
				return nil, &MustacheError{Line: ln, Message: "invalid delimiter change " + strconv.Quote(otag+"="+content+"="+ctag)}
			}
			otag, ctag = parts[0], parts[1]
		case '#', '^':
			if name == "" {
				return nil, &MustacheError{Line: ln, Message: "section without a name"}
			}
			if len(stack) == maxMustacheDepth {
				return nil, &MustacheError{Line: ln, Message: "sections nested more than " + strconv.Itoa(maxMustacheDepth) + " deep"}
			}
			k := mSection
			if kind == '^' {
				k = mInverted
			}
			n := &mustacheNode{kind: k, text: name, line: ln}
			nodes = append(nodes, n)
			stack = append(stack, frame{node: n, nodes: nodes})
			nodes = nil
		case '/':
			if len(stack) == 0 {
				return nil, &MustacheError{Line: ln, Message: "closing tag " + strconv.Quote(name) + " without an open section"}
			}
			top := stack[len(stack)-1]
			if top.node.text != name {
				return nil, &MustacheError{Line: ln, Message: "section " + strconv.Quote(top.node.text) + " (line " +
					strconv.Itoa(top.node.line) + ") closed by " + strconv.Quote(name)}
			}
			top.node.children = nodes
			nodes = top.nodes
			stack = stack[:len(stack)-1]
		default:
			if name == "" {
				return nil, &MustacheError{Line: ln, Message: "empty tag"}
			}
			nodes = append(nodes, &mustacheNode{kind: mVar, text: name, line: ln})
		}
		pos, lastTagEnd = end, end
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1].node
		return nil, &MustacheError{Line: top.line, Message: "unclosed section " + strconv.Quote(top.text)}
	}
	return nodes, nil
}

func blank(s string) bool { return strings.Trim(s, " \t") == "" }

type mustacheRenderer struct {
	out bytes.Buffer
}

func (r *mustacheRenderer) write(line int, s string) error {
	if r.out.Len()+len(s) > maxMustacheOutput {
		return &MustacheError{Line: line, Message: "the rendered text exceeds " + strconv.Itoa(maxMustacheOutput>>20) + " MiB"}
	}
	r.out.WriteString(s)
	return nil
}

func (r *mustacheRenderer) render(nodes []*mustacheNode, ctx []any) error {
	for _, n := range nodes {
		var err error
		switch n.kind {
		case mText:
			err = r.write(n.line, n.text)
		case mVar:
			err = r.write(n.line, mustacheString(lookupMustache(ctx, n.text)))
		case mSection:
			v := lookupMustache(ctx, n.text)
			switch {
			case !mustacheTruthy(v):
			case isList(v):
				for _, item := range listItems(v) {
					if err = r.render(n.children, append(ctx, item)); err != nil {
						break
					}
				}
			default:
				err = r.render(n.children, append(ctx, v))
			}
		case mInverted:
			if !mustacheTruthy(lookupMustache(ctx, n.text)) {
				err = r.render(n.children, ctx)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// lookupMustache resolves a (dotted) name: its first part in the innermost context that has it, the rest
// inside that value only.
func lookupMustache(ctx []any, name string) any {
	if name == "." {
		return ctx[len(ctx)-1]
	}
	parts := strings.Split(name, ".")
	var v any
	found := false
	for i := len(ctx) - 1; i >= 0 && !found; i-- {
		v, found = member(ctx[i], parts[0])
	}
	if !found {
		return nil
	}
	for _, p := range parts[1:] {
		if v, found = member(v, p); !found {
			return nil
		}
	}
	return v
}

func member(v any, key string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		m, ok := x[key]
		return m, ok
	case []any:
		if key == "length" {
			return json.Number(strconv.Itoa(len(x))), true
		}
		if i, err := strconv.Atoi(key); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	}
	return nil, false
}

func isList(v any) bool {
	if v == nil {
		return false
	}
	return reflect.TypeOf(v).Kind() == reflect.Slice
}

func listItems(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	rv := reflect.ValueOf(v)
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

func mustacheTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case float64:
		return x != 0
	case int:
		return x != 0
	case int64:
		return x != 0
	}
	if isList(v) {
		return reflect.ValueOf(v).Len() > 0
	}
	return true
}

// mustacheString is how a value prints: scalars as text, objects and lists as compact JSON.
func mustacheString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case int, int64:
		return fmt.Sprint(x)
	}
	return compactJSON(v)
}

// compactJSON encodes v without HTML escaping; "" when it cannot be encoded.
func compactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}
