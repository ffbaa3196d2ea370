package runs

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeEnvelope(t *testing.T) {
	const valid = `{"specversion":"1.0","type":"appstrate.progress","source":"/afps/runs/run_x","id":"e1",` +
		`"time":"2026-06-03T10:00:00.000Z","datacontenttype":"application/json","data":{"message":"hi"},"sequence":3}`
	env, err := DecodeEnvelope([]byte(valid))
	if err != nil || env.Sequence != 3 || env.Type != "appstrate.progress" || string(env.Data) != `{"message":"hi"}` {
		t.Fatalf("valid: %+v %v", env, err)
	}
	cases := []struct{ name, body, field string }{
		{"empty", ``, ""},
		{"array", `[]`, ""},
		{"trailing data", valid + `{}`, ""},
		{"unknown member", `{"specversion":"1.0","extra":1}`, "extra"},
		{"missing type", `{"specversion":"1.0","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":1}`, "type"},
		{"empty id", `{"specversion":"1.0","type":"t","source":"s","id":"","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":1}`, "id"},
		{"numeric source", `{"specversion":"1.0","type":"t","source":1,"id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":1}`, "source"},
		{"spec 0.3", `{"specversion":"0.3","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":1}`, "specversion"},
		{"xml", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"text/xml","data":{},"sequence":1}`, "datacontenttype"},
		{"date only", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03","datacontenttype":"application/json","data":{},"sequence":1}`, "time"},
		{"null data", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":null,"sequence":1}`, "data"},
		{"string sequence", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":"1"}`, "sequence"},
		{"huge sequence", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{},"sequence":1e30}`, "sequence"},
		{"missing sequence", `{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{}}`, "sequence"},
	}
	for _, c := range cases {
		_, err := DecodeEnvelope([]byte(c.body))
		var ee *EnvelopeError
		if !errors.As(err, &ee) || ee.Field != c.field {
			t.Errorf("%s: %v (field %q)", c.name, err, c.field)
		}
	}
}

// FuzzDecodeEnvelope: the decoder never panics, and what it accepts is a strict envelope that survives a
// round trip unchanged.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","type":"t","source":"s","id":"i","time":"2026-06-03T10:00:00Z","datacontenttype":"application/json","data":{"a":[1,{"b":null}]},"sequence":0}`))
	f.Add([]byte(`{"sequence":-0,"data":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := DecodeEnvelope(body)
		if err != nil {
			var ee *EnvelopeError
			if !errors.As(err, &ee) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if env.SpecVersion != "1.0" || env.DataContentType != "application/json" || env.Sequence < 0 ||
			env.Type == "" || env.Source == "" || env.ID == "" || len(env.Data) == 0 || env.Data[0] != '{' {
			t.Fatalf("accepted %+v", env)
		}
		raw, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := DecodeEnvelope(raw)
		if err != nil {
			t.Fatalf("round trip of %s: %v", raw, err)
		}
		var a, b any
		_ = json.Unmarshal(env.Data, &a)
		_ = json.Unmarshal(again.Data, &b)
		env.Data, again.Data = nil, nil
		if !reflect.DeepEqual(env, again) || !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed %+v into %+v", env, again)
		}
	})
}

func TestDecodeRunResult(t *testing.T) {
	r, err := DecodeRunResult([]byte(`{"memories":[{"content":"x","scope":"shared"}],"pinned":{"checkpoint":{"content":{"n":1}}},` +
		`"output":{"a":1},"logs":[{"level":"info","message":"m","timestamp":"2026-01-01T00:00:00Z"}],"status":"success",` +
		`"durationMs":12,"usage":{"input_tokens":3,"output_tokens":4},"cost":0.5,"report":"# r","extra":true}`))
	if err != nil || len(r.Memories) != 1 || *r.DurationMs != 12 || r.Usage.Total() != 7 || *r.Cost != 0.5 || r.Status != "success" {
		t.Fatalf("valid: %+v %v", r, err)
	}
	for body, field := range map[string]string{
		`[]`:                            "body",
		`{"status":"done"}`:             "status",
		`{"durationMs":-1}`:             "durationMs",
		`{"durationMs":1.5}`:            "durationMs",
		`{"cost":-0.1}`:                 "cost",
		`{"usage":{"input_tokens":-1}}`: "usage",
		`{"memories":"x"}`:              "memories",
		`{"error":"boom"}`:              "error",
	} {
		_, err := DecodeRunResult([]byte(body))
		var re *ResultError
		if !errors.As(err, &re) || re.Fields[0].Field != field {
			t.Errorf("%s: %v, want field %s", body, err, field)
		}
	}
}

// FuzzDecodeRunResult: the finalize body decoder and the persistence rules never panic, and fail only
// with typed errors.
func FuzzDecodeRunResult(f *testing.F) {
	f.Add([]byte(`{"memories":[{"content":"x"}],"pinned":{"checkpoint":{"content":{"n":1},"scope":"shared"}},"status":"failed","error":{"message":"m"}}`))
	f.Add([]byte(`{"pinned":{"Bad":{"content":1}},"durationMs":1e300}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRunResult(body)
		var re *ResultError
		if err != nil {
			if !errors.As(err, &re) || len(re.Fields) == 0 {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		plan, err := planPersistence(r)
		if err != nil {
			if !errors.As(err, &re) {
				t.Fatalf("untyped persistence error %v", err)
			}
			return
		}
		for _, p := range plan.pins {
			if !pinnedKeyPattern.MatchString(p.key) || len(p.key) > MaxPinnedKeyLength || len(p.content) > MaxPersistenceBytes {
				t.Fatalf("accepted pin %q", p.key)
			}
		}
	})
}
