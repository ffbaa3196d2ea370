package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// fires returns the first n fire times after after, in UTC RFC 3339.
func fires(t *testing.T, expr, zone, after string, n int) []string {
	t.Helper()
	s, err := ParseIn(expr, zone)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	cur := utc(after)
	out := make([]string, 0, n)
	for range n {
		next := s.Next(cur)
		if !next.After(cur) {
			t.Fatalf("%s in %s: Next(%s) = %s is not after it", expr, zone, cur, next)
		}
		out = append(out, next.UTC().Format(time.RFC3339))
		cur = next
	}
	return out
}

func TestNext(t *testing.T) {
	cases := []struct {
		name, expr, zone, after string
		want                    []string
	}{
		{"every minute", "* * * * *", "UTC", "2024-01-01T10:00:30Z", []string{"2024-01-01T10:01:00Z", "2024-01-01T10:02:00Z"}},
		{"strictly after a fire time", "0 * * * *", "UTC", "2024-01-01T10:00:00Z", []string{"2024-01-01T11:00:00Z"}},
		{"steps", "*/20 * * * *", "UTC", "2024-01-01T10:05:00Z", []string{"2024-01-01T10:20:00Z", "2024-01-01T10:40:00Z", "2024-01-01T11:00:00Z"}},
		{"start with a step", "5/20 * * * *", "UTC", "2024-01-01T10:00:00Z", []string{"2024-01-01T10:05:00Z", "2024-01-01T10:25:00Z", "2024-01-01T10:45:00Z", "2024-01-01T11:05:00Z"}},
		{"ranges and lists", "0,30 9-10 * * *", "UTC", "2024-01-01T00:00:00Z", []string{"2024-01-01T09:00:00Z", "2024-01-01T09:30:00Z", "2024-01-01T10:00:00Z", "2024-01-01T10:30:00Z", "2024-01-02T09:00:00Z"}},
		{"weekdays by name", "0 9 * * mon-FRI", "UTC", "2024-01-05T10:00:00Z", []string{"2024-01-08T09:00:00Z", "2024-01-09T09:00:00Z"}}, // Fri → Mon
		{"7 is sunday", "0 0 * * 7", "UTC", "2024-01-01T00:00:00Z", []string{"2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"}},
		{"month names", "0 0 1 jan,JUL *", "UTC", "2024-02-01T00:00:00Z", []string{"2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z"}},
		{"day of month or day of week", "0 0 13 * FRI", "UTC", "2024-09-01T00:00:00Z", []string{"2024-09-06T00:00:00Z", "2024-09-13T00:00:00Z", "2024-09-20T00:00:00Z", "2024-09-27T00:00:00Z", "2024-10-04T00:00:00Z", "2024-10-11T00:00:00Z", "2024-10-13T00:00:00Z"}},
		{"day of month and a star", "0 0 13 * *", "UTC", "2024-09-01T00:00:00Z", []string{"2024-09-13T00:00:00Z", "2024-10-13T00:00:00Z"}},
		{"stepped day of week is restricted", "0 0 1 * */3", "UTC", "2024-01-01T00:00:00Z", []string{"2024-01-03T00:00:00Z", "2024-01-06T00:00:00Z", "2024-01-07T00:00:00Z"}},
		{"31st skips short months", "0 0 31 * *", "UTC", "2024-01-31T00:00:00Z", []string{"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"}},
		{"leap day", "0 12 29 2 *", "UTC", "2024-03-01T00:00:00Z", []string{"2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"}},
		{"leap day across 2100", "0 0 29 FEB *", "UTC", "2096-03-01T00:00:00Z", []string{"2104-02-29T00:00:00Z"}},
		{"@yearly", "@yearly", "UTC", "2024-06-01T00:00:00Z", []string{"2025-01-01T00:00:00Z"}},
		{"@annually", "@annually", "UTC", "2024-06-01T00:00:00Z", []string{"2025-01-01T00:00:00Z"}},
		{"@monthly", "@monthly", "UTC", "2024-06-15T00:00:00Z", []string{"2024-07-01T00:00:00Z"}},
		{"@weekly", "@weekly", "UTC", "2024-06-15T00:00:00Z", []string{"2024-06-16T00:00:00Z"}},
		{"@daily", "@daily", "UTC", "2024-06-15T08:00:00Z", []string{"2024-06-16T00:00:00Z"}},
		{"@midnight", "@Midnight", "UTC", "2024-06-15T08:00:00Z", []string{"2024-06-16T00:00:00Z"}},
		{"@hourly", "@hourly", "UTC", "2024-06-15T08:00:00Z", []string{"2024-06-15T09:00:00Z"}},
		{"wall clock of the zone", "0 9 * * *", "Asia/Kolkata", "2024-06-15T00:00:00Z", []string{"2024-06-15T03:30:00Z", "2024-06-16T03:30:00Z"}},
		{"zone across the date line", "0 0 1 * *", "Pacific/Kiritimati", "2024-06-15T00:00:00Z", []string{"2024-06-30T10:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := fires(t, c.expr, c.zone, c.after, len(c.want))
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("%s in %s after %s:\n got %v\nwant %v", c.expr, c.zone, c.after, got, c.want)
			}
		})
	}
}

// TestNextDST pins the daylight saving rules of the package doc. Europe/Paris: 2024-03-31 02:00 CET → 03:00
// CEST (01:00Z), 2024-10-27 03:00 CEST → 02:00 CET (01:00Z). America/New_York: 2024-03-10 02:00 EST → 03:00
// EDT (07:00Z), 2024-11-03 02:00 EDT → 01:00 EST (06:00Z).
func TestNextDST(t *testing.T) {
	cases := []struct {
		name, expr, zone, after string
		want                    []string
	}{
		// Fixed times: a skipped time fires once when the jump ends, a repeated time once, at its first occurrence.
		{"paris spring 02:30 fires at 03:00", "30 2 * * *", "Europe/Paris", "2024-03-30T01:30:00Z",
			[]string{"2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"}},
		{"paris spring 02:00 and 02:45 fire once at 03:00", "0,45 2 * * *", "Europe/Paris", "2024-03-30T12:00:00Z",
			[]string{"2024-03-31T01:00:00Z", "2024-04-01T00:00:00Z", "2024-04-01T00:45:00Z"}},
		{"paris spring 02:30 and 03:00 fire once", "30 2 * * *", "Europe/Paris", "2024-03-31T00:59:00Z",
			[]string{"2024-03-31T01:00:00Z"}},
		{"paris spring times around the jump", "59 1,3 * * *", "Europe/Paris", "2024-03-30T23:00:00Z",
			[]string{"2024-03-31T00:59:00Z", "2024-03-31T01:59:00Z", "2024-03-31T23:59:00Z"}},
		{"paris fall 02:30 fires once", "30 2 * * *", "Europe/Paris", "2024-10-26T00:30:00Z",
			[]string{"2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"}},
		{"paris fall after the first 02:30", "30 2 * * *", "Europe/Paris", "2024-10-27T00:30:00Z",
			[]string{"2024-10-28T01:30:00Z"}},
		{"new york spring 02:30 fires at 03:00", "30 2 * * *", "America/New_York", "2024-03-09T12:00:00Z",
			[]string{"2024-03-10T07:00:00Z", "2024-03-11T06:30:00Z"}},
		{"new york fall 01:30 fires once", "30 1 * * *", "America/New_York", "2024-11-02T12:00:00Z",
			[]string{"2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"}},
		{"new york fall inside the second pass", "30 1 * * *", "America/New_York", "2024-11-03T06:10:00Z",
			[]string{"2024-11-04T06:30:00Z"}},
		{"new york fall weekly", "0 1 * * SUN", "America/New_York", "2024-10-30T00:00:00Z",
			[]string{"2024-11-03T05:00:00Z", "2024-11-10T06:00:00Z"}},
		// Elapsed times: skipped times do not fire, repeated hours fire in both passes.
		{"paris spring hourly skips 02:00", "0 * * * *", "Europe/Paris", "2024-03-30T23:30:00Z",
			[]string{"2024-03-31T00:00:00Z", "2024-03-31T01:00:00Z", "2024-03-31T02:00:00Z"}},
		{"paris spring hourly at :10", "10 * * * *", "Europe/Paris", "2024-03-31T00:00:00Z",
			[]string{"2024-03-31T00:10:00Z", "2024-03-31T01:10:00Z"}},
		{"paris fall half-hourly in both passes", "*/30 * * * *", "Europe/Paris", "2024-10-26T23:45:00Z",
			[]string{"2024-10-27T00:00:00Z", "2024-10-27T00:30:00Z", "2024-10-27T01:00:00Z", "2024-10-27T01:30:00Z", "2024-10-27T02:00:00Z"}},
		{"paris fall every 20 minutes of 2 o'clock", "*/20 2 * * *", "Europe/Paris", "2024-10-26T23:00:00Z",
			[]string{"2024-10-27T00:00:00Z", "2024-10-27T00:20:00Z", "2024-10-27T00:40:00Z", "2024-10-27T01:00:00Z", "2024-10-27T01:20:00Z", "2024-10-27T01:40:00Z", "2024-10-28T01:00:00Z"}},
		{"new york spring every 30 minutes", "*/30 * * * *", "America/New_York", "2024-03-10T06:00:00Z",
			[]string{"2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z", "2024-03-10T07:30:00Z"}},
		{"new york fall hourly", "@hourly", "America/New_York", "2024-11-03T04:30:00Z",
			[]string{"2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z", "2024-11-03T07:00:00Z"}},
		{"new york fall minutely across the repeat", "* * * * *", "America/New_York", "2024-11-03T05:58:00Z",
			[]string{"2024-11-03T05:59:00Z", "2024-11-03T06:00:00Z", "2024-11-03T06:01:00Z"}},
		// A zone whose spring jump skips midnight.
		{"santiago midnight fires when the day starts", "0 0 * * *", "America/Santiago", "2024-09-07T12:00:00Z",
			[]string{"2024-09-08T04:00:00Z", "2024-09-09T03:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := fires(t, c.expr, c.zone, c.after, len(c.want))
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Fatalf("%s in %s after %s:\n got %v\nwant %v", c.expr, c.zone, c.after, got, c.want)
			}
		})
	}
}

// TestNextDailyAcrossAYear: a daily fixed time fires exactly once per local day through both transitions.
func TestNextDailyAcrossAYear(t *testing.T) {
	for _, zone := range []string{"Europe/Paris", "America/New_York", "Australia/Lord_Howe"} {
		for _, expr := range []string{"30 2 * * *", "0 2 * * *", "30 1 * * *"} {
			s, err := ParseIn(expr, zone)
			if err != nil {
				t.Fatal(err)
			}
			loc := s.Location()
			cur := time.Date(2024, 1, 1, 12, 0, 0, 0, loc)
			days := map[string]int{}
			for range 366 {
				cur = s.Next(cur)
				days[cur.Format("2006-01-02")]++
			}
			if len(days) != 366 {
				t.Fatalf("%s in %s: %d distinct days in 366 fires", expr, zone, len(days))
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		expr  string
		field Field
		want  string
	}{
		{"", NoField, "empty expression"},
		{"   ", NoField, "empty expression"},
		{"* * * *", NoField, "expected 5 fields"},
		{"0 * * * * *", NoField, "expected 5 fields"},
		{"@reboot", NoField, "unknown macro"},
		{"@daily *", NoField, "unknown macro"},
		{"60 * * * *", Minute, "value 60 out of range 0-59"},
		{"-1 * * * *", Minute, "missing value"},
		{"* 24 * * *", Hour, "value 24 out of range 0-23"},
		{"* * 0 * *", DayOfMonth, "value 0 out of range 1-31"},
		{"* * 32 * *", DayOfMonth, "out of range"},
		{"* * * 13 *", Month, "value 13 out of range 1-12"},
		{"* * * FOO *", Month, `invalid value "FOO" (want 1-12 or JAN-DEC)`},
		{"* * * * 8", DayOfWeek, "value 8 out of range 0-7"},
		{"* * * * MONDAY", DayOfWeek, "invalid value"},
		{"5-1 * * * *", Minute, "range 5-1 is reversed"},
		{"*/0 * * * *", Minute, "step \"0\" must be a number from 1 to 59"},
		{"*/x * * * *", Minute, "step"},
		{"1/2/3 * * * *", Minute, "step"},
		{"1,,2 * * * *", Minute, "empty list element"},
		{"a * * * *", Minute, `invalid value "a" (want 0-59)`},
		{"? * * * *", Minute, "invalid value"},
		{"0 0 30 2 *", DayOfMonth, "never fires"},
		{"0 0 31 4,6,9,11 *", DayOfMonth, "never fires"},
		{strings.Repeat("1,", 300) + "1 * * * *", NoField, "longer than"},
	}
	for _, c := range cases {
		_, err := Parse(c.expr)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: error %v, want a *ParseError", c.expr, err)
		}
		if pe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%q: %v (field %s), want field %s and %q", c.expr, err, pe.Field, c.field, c.want)
		}
		if c.field != NoField && !strings.Contains(err.Error(), c.field.String()+" field") {
			t.Fatalf("%q: %v does not name the field", c.expr, err)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, expr := range []string{"0 0 29 2 *", "0 0 30 2 1", "0 0 31 2,3 *", "*/59 */23 */31 */12 */7", "0-59/15 0 1-7 * SUN-sat",
		"  0\t12  * * *  ", "@HOURLY"} {
		if _, err := Parse(expr); err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
	}
	e, _ := Parse("  0\t12  * * *  ")
	if e.String() != "0 12 * * *" {
		t.Fatalf("String() = %q", e.String())
	}
}

func TestLoadZone(t *testing.T) {
	for _, name := range []string{"", "Local", "Mars/Olympus_Mons", "../etc/passwd", "Europe/"} {
		_, err := LoadZone(name)
		var ze *ZoneError
		if !errors.As(err, &ze) || ze.Name != name || !strings.Contains(err.Error(), "unknown time zone") {
			t.Fatalf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu"} {
		if _, err := LoadZone(name); err != nil {
			t.Fatalf("%q: %v", name, err)
		}
	}
	if _, err := ParseIn("* * * * *", "Nowhere/Land"); err == nil {
		t.Fatal("ParseIn accepted an unknown zone")
	}
	if _, err := ParseIn("* * *", "UTC"); err == nil {
		t.Fatal("ParseIn accepted a bad expression")
	}
}

func BenchmarkNext(b *testing.B) {
	for _, c := range []struct{ name, expr, zone string }{
		{"minutely-utc", "* * * * *", "UTC"},
		{"daily-paris", "30 2 * * *", "Europe/Paris"},
		{"leapday", "0 0 29 2 *", "UTC"},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, _ := ParseIn(c.expr, c.zone)
			t := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
			for b.Loop() {
				s.Next(t)
			}
		})
	}
}

// TestNextMatchesBruteForce compares Next with a minute-by-minute walk (bruteNext, fuzz_test.go) from many
// starting points around the 2024 transitions of several zones.
func TestNextMatchesBruteForce(t *testing.T) {
	exprs := []string{"30 2 * * *", "0 2 * * *", "*/20 2 * * *", "0 * * * *", "15,45 * * * *", "0 0 * * *", "59 1 * * *",
		"0 3 * * *", "* 2 * * *", "0 1-3 * * *"}
	days := map[string][]string{
		"Europe/Paris":        {"2024-03-30T18:00:00Z", "2024-10-26T18:00:00Z"},
		"America/New_York":    {"2024-03-09T23:00:00Z", "2024-11-02T23:00:00Z"},
		"Australia/Lord_Howe": {"2024-04-06T08:00:00Z", "2024-10-05T08:00:00Z"},
		"America/Santiago":    {"2024-04-06T20:00:00Z", "2024-09-07T20:00:00Z"},
	}
	for zone, starts := range days {
		loc := mustZone(t, zone)
		for _, expr := range exprs {
			e, err := Parse(expr)
			if err != nil {
				t.Fatal(err)
			}
			s := e.In(loc)
			for _, start := range starts {
				for after := utc(start); after.Before(utc(start).Add(14 * time.Hour)); after = after.Add(11 * time.Minute) {
					want, ok := bruteNext(e, loc, after, 26*time.Hour)
					got := s.Next(after)
					if ok && !got.Equal(want) || !ok && got.Sub(after) < 25*time.Hour {
						t.Fatalf("%q in %s after %s: Next = %s, brute force %s", expr, zone, after.In(loc), got, want)
					}
				}
			}
		}
	}
}
