package cron

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxLength is the longest expression Parse accepts.
const MaxLength = 512

// Field names one of the five fields of an expression.
type Field int

// The fields, in expression order. NoField marks errors about the expression as a whole.
const (
	NoField Field = iota - 1
	Minute
	Hour
	DayOfMonth
	Month
	DayOfWeek
)

// String returns the name errors use for the field.
func (f Field) String() string {
	switch f {
	case Minute:
		return "minute"
	case Hour:
		return "hour"
	case DayOfMonth:
		return "day-of-month"
	case Month:
		return "month"
	case DayOfWeek:
		return "day-of-week"
	}
	return "expression"
}

// ParseError is a cron expression that cannot be parsed. Field is NoField when the expression as a whole is
// at fault (empty, wrong number of fields, unknown macro).
type ParseError struct {
	Field  Field
	Value  string // the text of the field at fault ("" for NoField)
	Reason string
}

func (e *ParseError) Error() string {
	if e.Field == NoField {
		return "cron: " + e.Reason
	}
	return fmt.Sprintf("cron: %s field %q: %s", e.Field, e.Value, e.Reason)
}

// fieldSpec is the range and the names of a field.
type fieldSpec struct {
	min, max int
	names    []string // names[i] is the value min+i (month) or i (day of week)
}

var specs = [...]fieldSpec{
	Minute:     {min: 0, max: 59},
	Hour:       {min: 0, max: 23},
	DayOfMonth: {min: 1, max: 31},
	Month:      {min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	DayOfWeek:  {min: 0, max: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

// Expr is a parsed expression. Its zero value matches nothing; build it with Parse.
type Expr struct {
	minute, hour, dom, month, dow uint64 // bit v set = value v matches (dow: 0-6)
	domStar, dowStar              bool   // the field is exactly "*": day matching is an AND, not an OR
	elapsed                       bool   // the minute or hour field begins with "*" (see the package doc)
	text                          string
}

// String returns the expression as parsed (blanks normalized; macros as given).
func (e *Expr) String() string { return e.text }

// Parse parses a five-field expression or a macro.
func Parse(s string) (*Expr, error) {
	if len(s) > MaxLength {
		return nil, &ParseError{Field: NoField, Reason: fmt.Sprintf("longer than %d characters", MaxLength)}
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, &ParseError{Field: NoField, Reason: "empty expression"}
	}
	text := strings.Join(fields, " ")
	if strings.HasPrefix(fields[0], "@") {
		m := strings.ToLower(fields[0])
		expanded, ok := macros[m]
		if !ok || len(fields) > 1 {
			return nil, &ParseError{Field: NoField, Reason: fmt.Sprintf("unknown macro %q (want @yearly, @annually, "+
				"@monthly, @weekly, @daily, @midnight or @hourly)", text)}
		}
		e, err := Parse(expanded)
		if err != nil {
			return nil, err
		}
		e.text = m
		return e, nil
	}
	if len(fields) != 5 {
		return nil, &ParseError{Field: NoField, Reason: fmt.Sprintf("expected 5 fields (minute hour day-of-month month "+
			"day-of-week), got %d", len(fields))}
	}
	e := &Expr{text: text}
	targets := [...]*uint64{Minute: &e.minute, Hour: &e.hour, DayOfMonth: &e.dom, Month: &e.month, DayOfWeek: &e.dow}
	for f := Minute; f <= DayOfWeek; f++ {
		bits, err := parseField(fields[f], f)
		if err != nil {
			return nil, err
		}
		*targets[f] = bits
	}
	if e.dow&(1<<7) != 0 { // 7 is Sunday
		e.dow = e.dow&^(1<<7) | 1
	}
	e.domStar, e.dowStar = fields[DayOfMonth] == "*", fields[DayOfWeek] == "*"
	e.elapsed = strings.HasPrefix(fields[Minute], "*") || strings.HasPrefix(fields[Hour], "*")
	if !e.domStar && e.dowStar && !e.someDayExists() {
		return nil, &ParseError{Field: DayOfMonth, Value: fields[DayOfMonth],
			Reason: "no selected day exists in the selected months, so the expression never fires"}
	}
	return e, nil
}

// daysIn is the longest length of each month (February in leap years).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// someDayExists reports whether a selected day of month exists in a selected month.
func (e *Expr) someDayExists() bool {
	for m := 1; m <= 12; m++ {
		if e.month&(1<<m) != 0 && e.dom&(1<<(daysIn[m]+1)-1) != 0 {
			return true
		}
	}
	return false
}

// parseField returns the set of values a field selects as a bit set.
func parseField(text string, f Field) (uint64, error) {
	spec := specs[f]
	fail := func(format string, args ...any) (uint64, error) {
		return 0, &ParseError{Field: f, Value: text, Reason: fmt.Sprintf(format, args...)}
	}
	var bits uint64
	for _, elem := range strings.Split(text, ",") {
		if elem == "" {
			return fail("empty list element")
		}
		rng, stepText, hasStep := strings.Cut(elem, "/")
		step := 1
		if hasStep {
			n, ok := number(stepText)
			if !ok || n < 1 || n > spec.max {
				return fail("step %q must be a number from 1 to %d", stepText, spec.max)
			}
			step = n
		}
		var lo, hi int
		switch {
		case rng == "*":
			lo, hi = spec.min, spec.max
			if f == DayOfWeek {
				hi = 6
			}
		default:
			loText, hiText, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = value(loText, spec); err != nil {
				return fail("%v", err)
			}
			hi = lo
			switch {
			case isRange:
				if hi, err = value(hiText, spec); err != nil {
					return fail("%v", err)
				}
				if lo > hi {
					return fail("range %s is reversed (the start must not exceed the end)", rng)
				}
			case hasStep:
				hi = spec.max
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

// value reads a number or a name of the field.
func value(text string, spec fieldSpec) (int, error) {
	if n, ok := number(text); ok {
		if n < spec.min || n > spec.max {
			return 0, fmt.Errorf("value %d out of range %d-%d", n, spec.min, spec.max)
		}
		return n, nil
	}
	for i, name := range spec.names {
		if strings.EqualFold(text, name) {
			if spec.min == 1 {
				return i + 1, nil
			}
			return i, nil
		}
	}
	if text == "" {
		return 0, fmt.Errorf("missing value")
	}
	if len(spec.names) > 0 {
		return 0, fmt.Errorf("invalid value %q (want %d-%d or %s-%s)", text, spec.min, spec.max, spec.names[0], spec.names[len(spec.names)-1])
	}
	return 0, fmt.Errorf("invalid value %q (want %d-%d)", text, spec.min, spec.max)
}

// number parses a short unsigned decimal.
func number(s string) (int, bool) {
	if s == "" || len(s) > 4 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
