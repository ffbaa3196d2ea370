package cron

import (
	"testing"
	"time"
)

var fuzzZones = []string{"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kathmandu"}

// FuzzNext: Parse never panics; what it accepts round-trips through String, and Next returns a later instant
// whose wall clock matches the expression (or, for a fixed-time expression, the end of a forward jump). In UTC
// Next is also the first matching minute, checked by brute force over two days.
func FuzzNext(f *testing.F) {
	for _, seed := range []string{"* * * * *", "*/15 9-17 * * MON-FRI", "30 2 * * *", "0 0 13 * FRI", "@weekly", "0 0 29 2 *",
		"5/20 1,2,3 1-31/2 JAN-DEC/3 0-7", "0 0 30 2 *", "60 * * * *", "@reboot", "1,,2 * * * *"} {
		f.Add(seed, int64(1711846800), uint8(1))
	}
	f.Fuzz(func(t *testing.T, expr string, unix int64, zone uint8) {
		e, err := Parse(expr)
		if err != nil {
			return
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("%q: String() %q does not parse: %v", expr, e.String(), err)
		}
		again.text = e.text
		if *again != *e {
			t.Fatalf("%q: round trip %q gives %+v, want %+v", expr, e.String(), again, e)
		}
		loc, err := LoadZone(fuzzZones[int(zone)%len(fuzzZones)])
		if err != nil {
			t.Fatal(err)
		}
		s := e.In(loc)
		after := time.Unix(unix%(130*365*86400), 0).In(loc) // 1840..2100
		if after.Year() < 1970 {
			after = after.AddDate(130, 0, 0)
		}
		next := s.Next(after)
		if !next.After(after) {
			t.Fatalf("%q in %s: Next(%s) = %s", expr, loc, after, next)
		}
		w := wallOf(next)
		if !e.matches(w) {
			_, offBefore := next.Add(-time.Second).Zone()
			_, offAt := next.Zone()
			if e.elapsed || offBefore == offAt {
				t.Fatalf("%q in %s: Next(%s) = %s does not match", expr, loc, after, next)
			}
		}
		if first, ok := bruteNext(e, loc, after, 26*time.Hour); ok && !first.Equal(next) {
			t.Fatalf("%q in %s: Next(%s) = %s, brute force says %s", expr, loc, after, next, first)
		}
	})
}

// bruteNext walks the whole minutes after after for span and returns the first one at which the package
// doc's rules fire, independently of Next: an instant whose wall clock matches fires unless it repeats the
// wall clock of an earlier instant and the expression is fixed-time; the end of a forward jump fires for a
// fixed-time expression when a skipped wall time matches.
func bruteNext(e *Expr, loc *time.Location, after time.Time, span time.Duration) (time.Time, bool) {
	start := after.Truncate(time.Minute).Add(time.Minute)
	for m := start; m.Before(start.Add(span)); m = m.Add(time.Minute) {
		w := wallOf(m.In(loc))
		prev := m.Add(-time.Minute).In(loc)
		_, offPrev := prev.Zone()
		_, off := m.In(loc).Zone()
		_, offEarlier := m.Add(-maxShift).In(loc).Zone()
		if e.matches(w) && (e.elapsed || off >= offEarlier || !wallSeen(loc, w, m)) {
			return m.In(loc), true
		}
		if !e.elapsed && off > offPrev {
			for g := wallOf(prev).Add(time.Minute); g.Before(w); g = g.Add(time.Minute) {
				if e.matches(g) {
					return m.In(loc), true
				}
			}
		}
	}
	return time.Time{}, false
}

// wallSeen reports whether an instant in the 3 hours before m had the wall clock w.
func wallSeen(loc *time.Location, w, m time.Time) bool {
	for k := time.Minute; k <= maxShift; k += time.Minute {
		if wallOf(m.Add(-k).In(loc)).Equal(w) {
			return true
		}
	}
	return false
}

// matches reports whether wall time w (UTC-encoded) matches every field.
func (e *Expr) matches(w time.Time) bool {
	return e.month&(1<<uint(w.Month())) != 0 && e.dayMatches(w.Day(), w.Weekday()) &&
		e.hour&(1<<uint(w.Hour())) != 0 && e.minute&(1<<uint(w.Minute())) != 0
}
