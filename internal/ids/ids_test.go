package ids_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/appstrate/appstrate-go/internal/ids"
)

var prefixes = []string{
	ids.App, ids.EndUser, ids.Webhook, ids.Event, ids.Run, ids.Schedule,
	ids.Upload, ids.Request, ids.CLIRefresh, ids.OAuthClient,
}

func TestPrefixesMatchAPI(t *testing.T) {
	want := "app_ eu_ wh_ evt_ run_ sched_ upl_ req_ crf_ oac_"
	if got := strings.Join(prefixes, " "); got != want {
		t.Errorf("prefixes = %q, want %q", got, want)
	}
}

func TestNewIsValidUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range prefixes {
		id := ids.New(p)
		if !ids.Valid(id, p) || !ids.HasPrefix(id, p) {
			t.Errorf("New(%q) = %q is not Valid", p, id)
		}
		u, err := uuid.Parse(strings.TrimPrefix(id, p))
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Errorf("New(%q) = %q: not a UUIDv4 (%v)", p, id, err)
		}
		if seen[id] {
			t.Errorf("New(%q) repeated %q", p, id)
		}
		seen[id] = true
	}
}

func TestUUID(t *testing.T) {
	a, b := ids.UUID(), ids.UUID()
	if !ids.ValidUUID(a) || a == b {
		t.Errorf("UUID() = %q, %q", a, b)
	}
}

func TestValid(t *testing.T) {
	const u = "0f8fad5b-d9cb-469f-a165-70867728950e"
	tests := []struct {
		name   string
		id     string
		prefix string
		want   bool
	}{
		{"prefixed uuid", "run_" + u, ids.Run, true},
		{"other prefix", "app_" + u, ids.Run, false},
		{"prefix only", "run_", ids.Run, false},
		{"missing prefix", u, ids.Run, false},
		{"empty prefix accepts plain uuid", u, "", true},
		{"nil uuid is well-formed", "run_00000000-0000-0000-0000-000000000000", ids.Run, true},
		{"uppercase hex refused", "run_" + strings.ToUpper(u), ids.Run, false},
		{"prefix case matters", "RUN_" + u, ids.Run, false},
		{"braces refused", "run_{" + u + "}", ids.Run, false},
		{"no dashes refused", "run_" + strings.ReplaceAll(u, "-", ""), ids.Run, false},
		{"urn refused", "run_urn:uuid:" + u, ids.Run, false},
		{"trailing data", "run_" + u + "x", ids.Run, false},
		{"truncated", "run_" + u[:35], ids.Run, false},
		{"dash misplaced", "run_0f8fad5bd-9cb-469f-a165-70867728950e", ids.Run, false},
		{"non hex", "run_0f8fad5b-d9cb-469f-a165-70867728950g", ids.Run, false},
		{"prefix doubled", "run_run_" + u, ids.Run, false},
		{"empty", "", ids.Run, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids.Valid(tt.id, tt.prefix); got != tt.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tt.id, tt.prefix, got, tt.want)
			}
			if got := ids.HasPrefix(tt.id, tt.prefix); got != tt.want {
				t.Errorf("HasPrefix(%q, %q) = %v, want %v", tt.id, tt.prefix, got, tt.want)
			}
		})
	}
}

func ExampleNew() {
	id := ids.New(ids.Run)
	fmt.Println(len(id), ids.Valid(id, ids.Run), ids.Valid(id, ids.App))
	// Output: 40 true false
}

func BenchmarkValid(b *testing.B) {
	id := ids.New(ids.Run)
	for b.Loop() {
		ids.Valid(id, ids.Run)
	}
}
