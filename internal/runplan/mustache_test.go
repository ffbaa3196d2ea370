package runplan

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func view(t testing.TB, s string) any {
	t.Helper()
	v := decodeJSON(json.RawMessage(s))
	if v == nil && s != "null" {
		t.Fatalf("bad view %s", s)
	}
	return v
}

func TestRenderMustache(t *testing.T) {
	const data = `{"name":"Ada","html":"<b>&</b>","n":0,"pi":3.14,"yes":true,"no":false,"empty":"","none":null,
		"person":{"first":"Ada","langs":["go","ts"],"address":{"city":"Paris"}},
		"items":[{"name":"a"},{"name":"b"}],"nums":[1,2,3],"nolist":[],"obj":{"k":[1,{"x":"y"}]}}`
	tests := []struct {
		name, tmpl, want string
	}{
		{"variable", "Hi {{name}}!", "Hi Ada!"},
		{"spaces in tag", "Hi {{ name }}!", "Hi Ada!"},
		{"no html escaping", "{{html}}|{{{html}}}|{{&html}}", "<b>&</b>|<b>&</b>|<b>&</b>"},
		{"missing is empty", "[{{nope}}][{{person.nope}}][{{nope.deeper}}]", "[][][]"},
		{"null is empty", "[{{none}}]", "[]"},
		{"numbers and booleans", "{{n}} {{pi}} {{yes}} {{no}}", "0 3.14 true false"},
		{"dotted names", "{{person.address.city}} {{person.first}}", "Paris Ada"},
		{"objects print as JSON", "{{person.address}} {{obj}}", `{"city":"Paris"} {"k":[1,{"x":"y"}]}`},
		{"lists print as JSON", "{{nums}} {{person.langs}}", `[1,2,3] ["go","ts"]`},
		{"list index and length", "{{nums.1}} {{nums.length}}", "2 3"},
		{"section over a list", "{{#items}}<{{name}}>{{/items}}", "<a><b>"},
		{"section over scalars", "{{#nums}}{{.}},{{/nums}}", "1,2,3,"},
		{"section over an object", "{{#person}}{{first}} in {{address.city}}{{/person}}", "Ada in Paris"},
		{"section on a truthy scalar", "{{#yes}}shown {{.}}{{/yes}}{{#name}}[{{.}}]{{/name}}", "shown true[Ada]"},
		{"falsy sections are skipped", "{{#no}}x{{/no}}{{#n}}x{{/n}}{{#empty}}x{{/empty}}{{#none}}x{{/none}}{{#nolist}}x{{/nolist}}{{#nope}}x{{/nope}}", ""},
		{"inverted sections", "{{^no}}a{{/no}}{{^nolist}}b{{/nolist}}{{^nope}}c{{/nope}}{{^yes}}x{{/yes}}{{^items}}x{{/items}}", "abc"},
		{"outer context from a section", "{{#items}}{{name}}/{{person.first}} {{/items}}", "a/Ada b/Ada "},
		{"dotted name does not climb", "{{#person}}{{address.name}}{{/person}}", ""},
		{"comment", "a{{! ignored }}b", "ab"},
		{"partial renders nothing", "a{{> other}}b", "ab"},
		{"standalone section lines vanish", "list:\n{{#items}}\n- {{name}}\n{{/items}}\nend", "list:\n- a\n- b\nend"},
		{"standalone with indentation and CRLF", "x\r\n  {{#yes}}  \r\ny\r\n  {{/yes}}\r\nz", "x\r\ny\r\nz"},
		{"standalone comment line", "a\n{{! note }}\nb", "a\nb"},
		{"standalone at end without newline", "a\n{{#yes}}b\n{{/yes}}", "a\nb\n"},
		{"tag sharing a line is not standalone", "a {{#yes}}\nb{{/yes}} c", "a \nb c"},
		{"variables are never standalone", "a\n{{name}}\nb", "a\nAda\nb"},
		{"delimiter change", "{{=<% %>=}}<% name %> {{name}} <%={{ }}=%>{{name}}", "Ada {{name}} Ada"},
		{"triple with other delimiters", "{{=[ ]=}}[{html}]", "<b>&</b>"},
		{"text without tags", "no tags } { here", "no tags } { here"},
		{"lone braces", "a { b } c {{name}} }}", "a { b } c Ada }}"},
		{"nested lists", `{{#obj.k}}({{x}}{{.}}){{/obj.k}}`, `(1)(y{"x":"y"})`},
	}
	v := view(t, data)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RenderMustache(tt.tmpl, v)
			if err != nil {
				t.Fatalf("render %q: %v", tt.tmpl, err)
			}
			if got != tt.want {
				t.Fatalf("render %q\n got %q\nwant %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestRenderMustacheErrors(t *testing.T) {
	tests := []struct {
		name, tmpl string
		line       int
		msg        string
	}{
		{"unclosed section", "a\n{{#items}}\nb", 2, `unclosed section "items"`},
		{"mismatched close", "{{#a}}\n{{/b}}", 2, `section "a" (line 1) closed by "b"`},
		{"close without open", "x {{/a}}", 1, `closing tag "a" without an open section`},
		{"unclosed tag", "a\nb {{name", 2, `unclosed tag "{{"`},
		{"unclosed triple", "{{{name}}", 1, `unclosed tag "{{"`},
		{"tag at the very end", "a {{", 1, `unclosed tag "{{"`},
		{"empty tag", "{{ }}", 1, "empty tag"},
		{"nameless section", "{{#}}{{/}}", 1, "section without a name"},
		{"bad delimiters", "{{=<% %> x=}}", 1, "invalid delimiter change"},
		{"too deep", strings.Repeat("{{#a}}", maxMustacheDepth+1), 1, "sections nested more than 64 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RenderMustache(tt.tmpl, map[string]any{})
			var me *MustacheError
			if !errors.As(err, &me) {
				t.Fatalf("render %q: error %v, want a MustacheError", tt.tmpl, err)
			}
			if me.Line != tt.line || !strings.Contains(me.Message, tt.msg) {
				t.Fatalf("render %q: line %d %q, want line %d containing %q", tt.tmpl, me.Line, me.Message, tt.line, tt.msg)
			}
		})
	}
}

// TestRenderMustacheOutputLimit: nested lists cannot multiply the output without bound.
func TestRenderMustacheOutputLimit(t *testing.T) {
	list := make([]any, 100)
	for i := range list {
		list[i] = strings.Repeat("x", 100)
	}
	tmpl := "{{#l}}{{#l}}{{#l}}{{.}}{{/l}}{{/l}}{{/l}}" // 10^6 × 100 bytes
	_, err := RenderMustache(tmpl, map[string]any{"l": list})
	var me *MustacheError
	if !errors.As(err, &me) || !strings.Contains(me.Message, "exceeds") {
		t.Fatalf("err %v", err)
	}
}

func FuzzRenderMustache(f *testing.F) {
	for _, s := range []string{
		"Hi {{name}}", "{{#items}}- {{name}}\n{{/items}}", "{{^none}}x{{/none}}", "{{=<% %>=}}<% name %>",
		"{{{html}}} {{&html}} {{! c }}", "a\n  {{#yes}}\n  b\n  {{/yes}}\n", "{{#a}}{{#b}}{{/a}}", "{{", "}}{{",
		"{{=| |=}}|#items||.||/items|", "{{person.address.city}}{{nums.length}}",
	} {
		f.Add(s)
	}
	v := view(f, `{"name":"Ada","html":"<b>","yes":true,"items":[{"name":"a"},{"name":"b"}],"nums":[1,2],
		"person":{"address":{"city":"Paris"}}}`)
	f.Fuzz(func(t *testing.T, tmpl string) {
		out, err := RenderMustache(tmpl, v)
		if err != nil {
			var me *MustacheError
			if !errors.As(err, &me) || me.Line < 1 || me.Line > strings.Count(tmpl, "\n")+1 {
				t.Fatalf("render %q: bad error %#v", tmpl, err)
			}
			return
		}
		if !strings.Contains(tmpl, "{{") && out != tmpl {
			t.Fatalf("render %q: a template without tags changed to %q", tmpl, out)
		}
		again, err := RenderMustache(tmpl, v)
		if err != nil || again != out {
			t.Fatalf("render %q: not deterministic", tmpl)
		}
	})
}
