package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// variable is one environment variable: how to read it into a Config and how to print it back.
type variable struct {
	name   string
	redact func(string) string // nil for plain settings; otherwise hides the secret part of the shown value
	load   func(c *Config, v value) error
	show   func(c *Config) string
}

// secret marks the variable as secret-bearing, hiding its whole value.
func (v variable) secret() variable {
	v.redact = redactAll
	return v
}

// then adds a rule checked after the variable is loaded (typically against variables loaded before it).
func (v variable) then(check func(c *Config, v value) error) variable {
	load := v.load
	v.load = func(c *Config, val value) error {
		if err := load(c, val); err != nil {
			return err
		}
		return check(c, val)
	}
	return v
}

// field builds a variable whose unset value is def(c) and whose set value goes through parse; a parse
// error's text is the expected form.
func field[T any](name string, ptr func(*Config) *T, def func(*Config) T, parse func(string) (T, error),
	format func(T) string) variable {
	return variable{
		name: name,
		load: func(c *Config, v value) error {
			if v.raw == "" {
				*ptr(c) = def(c)
				return nil
			}
			x, err := parse(v.raw)
			if err != nil {
				return v.bad(err.Error())
			}
			*ptr(c) = x
			return nil
		},
		show: func(c *Config) string { return format(*ptr(c)) },
	}
}

func constant[T any](x T) func(*Config) T { return func(*Config) T { return x } }

func identity(s string) string { return s }

// stringVar is free text with a default.
func stringVar(name, def string, ptr func(*Config) *string) variable {
	return field(name, ptr, constant(def), func(s string) (string, error) { return s, nil }, identity)
}

// checkedVar is text validated (and possibly normalised) by parse.
func checkedVar(name, def string, ptr func(*Config) *string, parse func(string) (string, error)) variable {
	return field(name, ptr, constant(def), parse, identity)
}

// intVar is an integer in [lo, hi].
func intVar(name string, def, lo, hi int, ptr func(*Config) *int) variable {
	return field(name, ptr, constant(def), intRange(lo, hi, ""), strconv.Itoa)
}

// durationVar is an integer number of units (time.Second or time.Millisecond) in [lo, hi].
func durationVar(name string, def, lo, hi int, unit time.Duration, ptr func(*Config) *time.Duration) variable {
	what := " (seconds)"
	if unit == time.Millisecond {
		what = " (milliseconds)"
	}
	parse := func(s string) (time.Duration, error) {
		n, err := intRange(lo, hi, what)(s)
		return time.Duration(n) * unit, err
	}
	format := func(d time.Duration) string { return strconv.FormatInt(int64(d/unit), 10) }
	return field(name, ptr, constant(time.Duration(def)*unit), parse, format)
}

func intRange(lo, hi int, what string) func(string) (int, error) {
	return func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("an integer between %d and %d%s", lo, hi, what)
		}
		return n, nil
	}
}

// boolVar accepts true/false/1/0 (case-insensitive).
func boolVar(name string, def bool, ptr func(*Config) *bool) variable {
	return field(name, ptr, constant(def), parseBool, strconv.FormatBool)
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New(`one of "true", "false", "1" or "0"`)
}

// enumVar is one of allowed (case-insensitive, stored lower-case).
func enumVar(name, def string, allowed []string, ptr func(*Config) *string) variable {
	return checkedVar(name, def, ptr, oneOf(allowed...))
}

func oneOf(allowed ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		s = strings.ToLower(s)
		if slices.Contains(allowed, s) {
			return s, nil
		}
		return "", fmt.Errorf("one of %s", strings.Join(allowed, ", "))
	}
}

// listVar is a comma-separated list; items are trimmed, empty items dropped, duplicates removed, and each
// item goes through item (which may normalise it). An unset variable yields def(c).
func listVar(name string, def func(*Config) []string, ptr func(*Config) *[]string,
	item func(string) (string, error)) variable {
	return field(name, ptr, def, func(s string) ([]string, error) { return splitList(s, item) }, joinList)
}

func splitList(s string, item func(string) (string, error)) ([]string, error) {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		x, err := item(part)
		if err != nil {
			return nil, fmt.Errorf("a comma-separated list where each item is %w (got %q)", err, part)
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out, nil
}

func joinList(l []string) string { return strings.Join(l, ",") }

// secretVar is a secret string of at least minLen characters.
func secretVar(name string, minLen int, ptr func(*Config) *string) variable {
	return checkedVar(name, "", ptr, minLength(minLen)).secret()
}

func minLength(n int) func(string) (string, error) {
	return func(s string) (string, error) {
		if len(s) < n {
			return "", fmt.Errorf("a secret of at least %d characters", n)
		}
		return s, nil
	}
}

// pairCheck reports a half-configured pair (an id without its secret or the reverse); it runs after the
// second variable of the pair is loaded.
func pairCheck(idName string, id, secret func(*Config) string) func(*Config, value) error {
	return func(c *Config, v value) error {
		switch {
		case id(c) == "" && secret(c) != "":
			return &Error{Var: idName, Expected: fmt.Sprintf("a value (required when %s is set)", v.name)}
		case id(c) != "" && secret(c) == "":
			return v.bad(fmt.Sprintf("a value (required when %s is set)", idName))
		}
		return nil
	}
}
