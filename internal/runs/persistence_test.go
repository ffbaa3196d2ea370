package runs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/sink"
)

func TestJSONTextKeepsWhatTheAgentWrote(t *testing.T) {
	for _, s := range []string{"tea < coffee & milk", `quote " and \ slash`, "line\nbreak", "émoji 🍵"} {
		got := jsonText(s)
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != s {
			t.Fatalf("%q → %s → %q (%v)", s, got, back, err)
		}
		if strings.Contains(got, `\u003c`) || strings.Contains(got, `\u0026`) {
			t.Fatalf("HTML-escaped: %s", got)
		}
	}
}

func TestPlanPersistence(t *testing.T) {
	plan, err := planPersistence(sink.RunResult{
		Memories: []sink.Memory{{Content: " a "}, {Content: "b", Scope: "shared"}, {Content: "\t"}},
		Pinned: map[string]sink.Pinned{"checkpoint": {Content: json.RawMessage(`{"n":1}`)},
			"list": {Content: json.RawMessage(`[1]`), Scope: "shared"}},
	})
	if err != nil || len(plan.memories) != 2 || plan.memories[0].content != "a" || !plan.memories[1].shared ||
		len(plan.pins) != 2 || string(plan.checkpoint) != `{"n":1}` || !plan.pins[1].shared {
		t.Fatalf("plan %+v %v", plan, err)
	}
	// A checkpoint that is not an object is kept as a slot but not snapshotted on the run.
	plan, _ = planPersistence(sink.RunResult{Pinned: map[string]sink.Pinned{"checkpoint": {Content: json.RawMessage(`"x"`)}}})
	if plan.checkpoint != nil || len(plan.pins) != 1 {
		t.Fatalf("scalar checkpoint %+v", plan)
	}
	_, err = planPersistence(sink.RunResult{Pinned: map[string]sink.Pinned{"a-b": {Content: json.RawMessage(`1`)},
		"ok": {Content: json.RawMessage(`1`), Scope: "team"}}})
	var re *ResultError
	if !errors.As(err, &re) || len(re.Fields) != 2 || re.Fields[0].Field != "pinned.a-b" || re.Fields[1].Field != "pinned.ok.scope" {
		t.Fatalf("errors %v", err)
	}
}
