package runcmd

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/afps"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		arg     string
		want    Target
		invalid bool
	}{
		{arg: "@acme/hello-world", want: Target{Scope: "acme", Name: "hello-world"}},
		{arg: "@acme/hello@1.2.0", want: Target{Scope: "acme", Name: "hello", Spec: "1.2.0"}},
		{arg: "@acme/hello@^1", want: Target{Scope: "acme", Name: "hello", Spec: "^1"}},
		{arg: "@acme/hello@latest", want: Target{Scope: "acme", Name: "hello", Spec: "latest"}},
		{arg: "./agent.afps", want: Target{Path: "./agent.afps"}},
		{arg: "../x.afps-bundle", want: Target{Path: "../x.afps-bundle"}},
		{arg: "/abs/x.afps", want: Target{Path: "/abs/x.afps"}},
		{arg: "~/x.afps", want: Target{Path: "~/x.afps"}},
		{arg: `C:\agents\x.afps`, want: Target{Path: `C:\agents\x.afps`}},
		{arg: "agent.afps", want: Target{Path: "agent.afps"}},
		{arg: "@Acme/hello", invalid: true},
		{arg: "@acme", invalid: true},
		{arg: "@acme/", invalid: true},
		{arg: "@acme/-x", invalid: true},
		{arg: "@acme/x@", invalid: true},
		{arg: "@acme/x@>=1 <2", want: Target{Scope: "acme", Name: "x", Spec: ">=1 <2"}},
		{arg: "@acme/x@1\n", invalid: true},
		{arg: "", invalid: true},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.arg)
		if tt.invalid {
			if err == nil || !strings.Contains(err.Error(), "is not a valid package id") {
				t.Errorf("ParseTarget(%q) = %+v, %v; want an invalid id error", tt.arg, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.arg, got, err, tt.want)
		}
	}
	if l := (Target{Scope: "a", Name: "b", Spec: "1"}).Label(); l != "@a/b@1" {
		t.Errorf("label %q", l)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		vals []string
		want string // JSON; "" = nil
		err  string
	}{
		{name: "none", vals: nil, want: ""},
		{name: "json object", vals: []string{`{"q":"hi","n":1}`}, want: `{"n":1,"q":"hi"}`},
		{name: "strings", vals: []string{"name=Ada", "empty=", "eq=a=b"}, want: `{"empty":"","eq":"a=b","name":"Ada"}`},
		{name: "typed", vals: []string{"n:=42", "ok:=true", `tags:=["a"]`, "s:=\"x\""}, want: `{"n":42,"ok":true,"s":"x","tags":["a"]}`},
		{name: "later wins", vals: []string{`{"a":1,"b":2}`, "a=x"}, want: `{"a":"x","b":2}`},
		{name: "not an object", vals: []string{`{"a":1}x`}, err: "unexpected data"},
		{name: "array", vals: []string{`[1]`}, err: "expected a JSON object, key=value"},
		{name: "bad typed", vals: []string{"n:=nope"}, err: "must be JSON"},
		{name: "empty key", vals: []string{"=v"}, err: "key is empty"},
		{name: "bare word", vals: []string{"hello"}, err: "expected a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValues("input", tt.vals)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "--input ") {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("got %v, want nil", got)
				}
				return
			}
			b, _ := json.Marshal(got)
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestReadObjectAndMerge(t *testing.T) {
	if _, err := ReadObject("stdin", strings.NewReader(`"x"`)); err == nil || !strings.Contains(err.Error(), "stdin: must be a JSON object") {
		t.Fatalf("err %v", err)
	}
	obj, err := ReadObject("f", strings.NewReader(` {"a":{"b":1}} `+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	merged := Merge(obj, map[string]any{"a": map[string]any{"c": 2}, "d": 3})
	b, _ := json.Marshal(merged)
	if string(b) != `{"a":{"b":1,"c":2},"d":3}` {
		t.Fatalf("merge %s", b)
	}
}

func TestLogRowEvents(t *testing.T) {
	str := func(s string) *string { return &s }
	at := "2025-01-02T03:04:05.006Z"
	tests := []struct {
		row  logRow
		want Event // nil: dropped
	}{
		{row: logRow{Type: "progress", EventName: str("progress"), Message: str("hi"), Data: json.RawMessage(`{"tool":"bash"}`)},
			want: Event{"type": "appstrate.progress", "message": "hi", "data": map[string]any{"tool": "bash"}}},
		{row: logRow{Type: "result", EventName: str("output"), Data: json.RawMessage(`{"a":1}`)},
			want: Event{"type": "output.emitted", "data": map[string]any{"a": float64(1)}}},
		{row: logRow{Type: "result", EventName: str("report"), Data: json.RawMessage(`{"content":"# R"}`)},
			want: Event{"type": "report.appended", "content": "# R"}},
		{row: logRow{Type: "system", EventName: str("adapter_error"), Message: str("boom")},
			want: Event{"type": "appstrate.error", "message": "boom"}},
		{row: logRow{Type: "result", EventName: str("result")}},
		{row: logRow{Type: "system", EventName: str("run_completed")}},
	}
	for _, tt := range tests {
		tt.row.RunID, tt.row.CreatedAt = "run_1", at
		got, ok := tt.row.Event()
		if tt.want == nil {
			if ok {
				t.Errorf("%+v: got %v, want dropped", tt.row, got)
			}
			continue
		}
		tt.want["runId"], tt.want["timestamp"] = "run_1", int64(1735787045006)
		if !ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v:\n got %v\nwant %v", tt.row, got, tt.want)
		}
	}
}

func FuzzParseValues(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "a=b", "a:=1", "a:=", "=", `{"a":{"b":[1,2]}}`, "{", "k:=[1,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseValues("input", []string{s})
		if err == nil && m == nil {
			t.Fatal("no error and no object")
		}
		if err == nil {
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("unencodable result %v: %v", m, err)
			}
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"@a/b", "@a/b@1", "./x", "x", "@", "@a/b@", "C:/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		if tg.IsPath() == (tg.Name != "") {
			t.Fatalf("%q: both or neither a path and an id: %+v", s, tg)
		}
		if !tg.IsPath() {
			back, err := ParseTarget(tg.Label())
			if err != nil || back != tg {
				t.Fatalf("%q: label %q does not parse back: %+v %v", s, tg.Label(), back, err)
			}
		}
	})
}

func TestCheckValues(t *testing.T) {
	w := &afps.SchemaWrapper{Schema: json.RawMessage(`{"type":"object","properties":{"tone":{"type":"string","enum":["calm","loud"],"default":"calm"},"n":{"type":"integer"}},"required":["n"]}`)}
	got, err := checkValues("config", w, map[string]any{"n": json.Number("2")}, true)
	if err != nil || got["tone"] != "calm" {
		t.Fatalf("defaults: %v %v", got, err)
	}
	_, err = checkValues("config", w, map[string]any{"tone": "shout"}, false)
	if err == nil || !strings.Contains(err.Error(), "--config does not match the agent's schema") ||
		!strings.Contains(err.Error(), "config.tone") || !strings.Contains(err.Error(), "config") {
		t.Fatalf("err %v", err)
	}
	if got, err := checkValues("input", nil, nil, false); err != nil || got != nil {
		t.Fatalf("no schema: %v %v", got, err)
	}
}
