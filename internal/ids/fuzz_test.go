package ids_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/appstrate/appstrate-go/internal/ids"
)

// FuzzValid checks Valid against an independent definition: the prefix, then
// exactly the canonical lowercase text that uuid.Parse would print back.
// The seed corpus lives in testdata/fuzz/FuzzValid.
func FuzzValid(f *testing.F) {
	f.Add("run_0f8fad5b-d9cb-469f-a165-70867728950e", ids.Run)
	f.Fuzz(func(t *testing.T, id, prefix string) {
		got := ids.Valid(id, prefix)
		rest, ok := strings.CutPrefix(id, prefix)
		want := false
		if ok {
			u, err := uuid.Parse(rest)
			want = err == nil && u.String() == rest
		}
		if got != want {
			t.Fatalf("Valid(%q, %q) = %v, want %v", id, prefix, got, want)
		}
		if got && !ids.HasPrefix(id, prefix) {
			t.Fatalf("HasPrefix disagrees with Valid on %q", id)
		}
	})
}
