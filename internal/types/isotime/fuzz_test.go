package isotime_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var wire = regexp.MustCompile(`^"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"$`)

// FuzzUnmarshalJSON checks that whatever UnmarshalJSON accepts re-marshals in
// the canonical form and round-trips to the same instant.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		`"2026-06-03T12:00:00.000Z"`, `"2026-06-03T14:00:00.123456789+02:00"`, `null`, `""`,
		`"0000-01-01T00:00:00Z"`, `"9999-12-31T23:59:59.999-01:00"`, `"2026-06-03T12:00:00\u002e5Z"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got isotime.Time
		if err := got.UnmarshalJSON(data); err != nil {
			return
		}
		out, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal %v: %v", data, got.Time, err)
		}
		if got.IsZero() {
			if string(out) != "null" {
				t.Fatalf("zero marshalled as %s", out)
			}
			return
		}
		if !wire.Match(out) {
			t.Fatalf("%q marshalled as non-canonical %s", data, out)
		}
		var back isotime.Time
		if err := json.Unmarshal(out, &back); err != nil || !back.Equal(got) {
			t.Fatalf("round trip of %s: %v, %v", out, back.Time, err)
		}
	})
}
