package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoad sets one variable of the table to an arbitrary value: Load must not panic, and must either
// succeed or return an *Error for a known variable with a one-line message.
func FuzzLoad(f *testing.F) {
	f.Add(0, "production")
	f.Add(1, "70000")
	f.Add(10, "postgres://%zz")
	f.Add(52, `{"max_concurrent_per_org":0}`)
	f.Fuzz(func(t *testing.T, i int, raw string) {
		if i < 0 {
			i = -i
		}
		name := variables[i%len(variables)].name
		_, err := Load(envOf(map[string]string{name: raw}))
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s=%q: %v is not an *Error", name, raw, err)
		}
		if _, ok := variableNamed(e.Var); !ok && e.Var != "NODE_ENV" {
			t.Fatalf("%s=%q: error names unknown variable %q", name, raw, e.Var)
		}
		if strings.ContainsAny(e.Expected, "\n\r") {
			t.Fatalf("%s=%q: multi-line expectation %q", name, raw, e.Expected)
		}
	})
}
