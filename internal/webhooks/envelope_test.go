package webhooks

import (
	"encoding/json"
	"strings"
	"testing"
)

type runObject struct {
	Object    string         `json:"object"`
	ID        string         `json:"id"`
	PackageID string         `json:"packageId"`
	Status    string         `json:"status"`
	Duration  int            `json:"duration"`
	Input     map[string]any `json:"input,omitempty"`
	Result    any            `json:"result,omitempty"`
	Error     *string        `json:"error"`
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return m
}

func TestBuildEnvelope(t *testing.T) {
	run := runObject{Object: "run", ID: "run_1", PackageID: "@acme/x", Status: "success", Duration: 1234,
		Input: map[string]any{"q": "hi"}, Result: map[string]any{"output": "done"}}
	big := run
	big.Result = map[string]any{"output": strings.Repeat("x", MaxDataBytes)}
	tests := []struct {
		name          string
		object        any
		mode          string
		wantResult    bool
		wantInput     bool
		wantTruncated bool
	}{
		{"full keeps result and input", run, PayloadFull, true, true, false},
		{"summary strips result and input", run, PayloadSummary, false, false, false},
		{"full over 256 KB drops result", big, PayloadFull, false, true, true},
		{"summary of a large result is small", big, PayloadSummary, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := BuildEnvelope("evt_1", EventRunSuccess, 1780000000, tt.object, tt.mode)
			if err != nil {
				t.Fatal(err)
			}
			env := decode(t, body)
			if env["id"] != "evt_1" || env["object"] != "event" || env["type"] != "run.success" ||
				env["apiVersion"] != "2026-03-21" || env["created"] != float64(1780000000) {
				t.Fatalf("envelope %v", env)
			}
			obj := env["data"].(map[string]any)["object"].(map[string]any)
			if obj["object"] != "run" || obj["id"] != "run_1" || obj["status"] != "success" || obj["duration"] != float64(1234) {
				t.Fatalf("object %v", obj)
			}
			_, hasResult := obj["result"]
			_, hasInput := obj["input"]
			if hasResult != tt.wantResult || hasInput != tt.wantInput || (obj["resultTruncated"] == true) != tt.wantTruncated {
				t.Fatalf("result %v input %v truncated %v", hasResult, hasInput, obj["resultTruncated"])
			}
			if len(body) > MaxDataBytes+1024 {
				t.Fatalf("body of %d bytes", len(body))
			}
		})
	}
	if !strings.HasPrefix(string(mustEnvelope(t, run)), `{"id":"evt_1","object":"event","type":"run.success","apiVersion":"2026-03-21","created":1780000000,"data":{"object":{"object":"run","id":"run_1"`) {
		t.Fatalf("wire order: %s", mustEnvelope(t, run))
	}
	if _, err := BuildEnvelope("evt_1", EventRunSuccess, 1, []int{1}, PayloadFull); err == nil {
		t.Fatal("an array object was accepted")
	}
}

func mustEnvelope(t *testing.T, v any) []byte {
	b, err := BuildEnvelope("evt_1", EventRunSuccess, 1780000000, v, PayloadFull)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzShapeObject: any input is refused or shaped into a JSON object; summary mode never keeps result or
// input; the data member stays within MaxDataBytes unless something other than result is larger.
func FuzzShapeObject(f *testing.F) {
	for _, s := range []string{`{"object":"run","result":{"output":1},"input":{"a":[1,2]},"status":"success"}`, `{}`, `[]`, `"x"`,
		`{"a":1}{"b":2}`, `{"result":1,"result":2}`, `{"a":"\u00e9\"}"}`, `{"a":1,}`, ` {"input" : null } `} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, summary bool) {
		mode := PayloadFull
		if summary {
			mode = PayloadSummary
		}
		out, err := shapeObject(raw, mode)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("shaped %q into invalid JSON %q: %v", raw, out, err)
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		if summary {
			if _, ok := m["result"]; ok {
				t.Fatalf("summary kept result: %s", out)
			}
			if _, ok := m["input"]; ok {
				t.Fatalf("summary kept input: %s", out)
			}
		}
	})
}
