package cron

import (
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"time"
	_ "time/tzdata" // zones work on hosts without a zone database (static binary, scratch images)
)

// maxShift bounds the clock change of a daylight saving transition (the largest on record is 2 h).
const maxShift = 3 * time.Hour

// searchYears bounds the search of Next: every expression Parse accepts fires within 8 years (29 February).
const searchYears = 9

// ZoneError is a time zone name that is not an IANA zone.
type ZoneError struct {
	Name string
	Err  error
}

func (e *ZoneError) Error() string {
	return fmt.Sprintf("cron: unknown time zone %q (want an IANA name such as UTC or Europe/Paris)", e.Name)
}

func (e *ZoneError) Unwrap() error { return e.Err }

// LoadZone returns the IANA zone name. The empty name and "Local" (whose meaning depends on the host) are
// refused.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, &ZoneError{Name: name, Err: errors.New("not an IANA zone name")}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &ZoneError{Name: name, Err: err}
	}
	return loc, nil
}

// Schedule is an expression in a time zone.
type Schedule struct {
	expr *Expr
	loc  *time.Location
}

// In returns the schedule of e in loc (nil = UTC).
func (e *Expr) In(loc *time.Location) *Schedule {
	if loc == nil {
		loc = time.UTC
	}
	return &Schedule{expr: e, loc: loc}
}

// ParseIn parses expr and loads the zone tz: a *ParseError or a *ZoneError.
func ParseIn(expr, tz string) (*Schedule, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	loc, err := LoadZone(tz)
	if err != nil {
		return nil, err
	}
	return e.In(loc), nil
}

// Expr returns the expression of the schedule.
func (s *Schedule) Expr() *Expr { return s.expr }

// Location returns the zone of the schedule.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first fire time strictly after after, with the daylight saving rules of the package doc.
// The result is in the schedule's zone; it is the zero time only for an Expr that was not built by Parse.
func (s *Schedule) Next(after time.Time) time.Time {
	start := wallOf(after.In(s.loc)).Add(time.Minute)
	if s.offsetChangesNear(after) {
		// Near a transition the wall clock is not monotonic: an earlier wall time may be a later instant.
		start = start.Add(-maxShift)
	}
	limit := start.AddDate(searchYears, 0, 0)
	var best time.Time
	for w := s.expr.nextWall(start, limit); !w.IsZero(); w = s.expr.nextWall(w.Add(time.Minute), limit) {
		if !best.IsZero() && w.Sub(wallOf(best)) > 2*maxShift {
			break
		}
		for _, t := range s.fireTimes(w) {
			if t.After(after) && (best.IsZero() || t.Before(best)) {
				best = t
			}
		}
		if !best.IsZero() && !s.offsetChangesNear(best) {
			break // wall order is instant order around best: no later wall time fires earlier
		}
	}
	return best
}

// offsetChangesNear reports whether the zone's offset changes within maxShift of t.
func (s *Schedule) offsetChangesNear(t time.Time) bool {
	_, before := t.Add(-maxShift).In(s.loc).Zone()
	_, at := t.In(s.loc).Zone()
	_, after := t.Add(maxShift).In(s.loc).Zone()
	return before != at || at != after
}

// wallOf returns the wall clock of t (already in its zone), to the minute, as a UTC time: UTC is the civil
// calendar without transitions.
func wallOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
}

// clockOf is wallOf to the second: an instant's wall clock is a whole minute w only if clockOf(t) == w.
func clockOf(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

// fireTimes returns the instants at which the matching wall time w fires: its instant; for a time in a
// forward jump, the end of the jump (fixed-time expressions) or nothing; for a time that occurs twice, the
// first occurrence (fixed-time) or both.
func (s *Schedule) fireTimes(w time.Time) []time.Time {
	found, candidates := s.instants(w)
	switch {
	case len(found) == 0 && s.expr.elapsed:
		return nil
	case len(found) == 0:
		return []time.Time{s.transitionAfter(candidates[0], candidates[len(candidates)-1])}
	case len(found) > 1 && !s.expr.elapsed:
		return found[:1]
	}
	return found
}

// instants returns the instants whose wall clock in the zone is w, in order, and the candidate instants
// tried (w minus each offset in effect nearby), in order.
func (s *Schedule) instants(w time.Time) (found, candidates []time.Time) {
	naive := time.Unix(w.Unix(), 0)
	_, off0 := naive.In(s.loc).Zone()
	base := naive.Add(-time.Duration(off0) * time.Second)
	offsets := map[int]bool{off0: true}
	for _, probe := range []time.Time{base.Add(-maxShift), base, base.Add(maxShift)} {
		_, off := probe.In(s.loc).Zone()
		offsets[off] = true
	}
	for off := range offsets {
		t := naive.Add(-time.Duration(off) * time.Second).In(s.loc)
		candidates = append(candidates, t)
		if clockOf(t).Equal(w) {
			found = append(found, t)
		}
	}
	sortTimes(candidates)
	sortTimes(found)
	return dedupe(found), candidates
}

// transitionAfter returns the first instant in (lo, hi] whose offset is hi's: the end of the forward jump
// between them, to the second.
func (s *Schedule) transitionAfter(lo, hi time.Time) time.Time {
	_, want := hi.In(s.loc).Zone()
	a, b := lo.Unix(), hi.Unix() // offset(a) != want, offset(b) == want
	for b-a > 1 {
		mid := a + (b-a)/2
		if _, off := time.Unix(mid, 0).In(s.loc).Zone(); off == want {
			b = mid
		} else {
			a = mid
		}
	}
	return time.Unix(b, 0).In(s.loc)
}

func sortTimes(ts []time.Time) { sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) }) }

func dedupe(ts []time.Time) []time.Time {
	out := ts[:0]
	for i, t := range ts {
		if i == 0 || !t.Equal(ts[i-1]) {
			out = append(out, t)
		}
	}
	return out
}

// nextWall returns the first wall time at or after t (a minute, as a UTC time) that the expression matches,
// or the zero time when there is none before limit.
func (e *Expr) nextWall(t, limit time.Time) time.Time {
	for t.Before(limit) {
		y, mo, d := t.Date()
		switch {
		case e.month&(1<<uint(mo)) == 0:
			next, ok := nextBit(e.month, int(mo)+1, 12)
			if !ok {
				t = time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC)
				continue
			}
			t = time.Date(y, time.Month(next), 1, 0, 0, 0, 0, time.UTC)
		case !e.dayMatches(d, t.Weekday()):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case e.hour&(1<<uint(t.Hour())) == 0:
			next, ok := nextBit(e.hour, t.Hour()+1, 23)
			if !ok {
				t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
				continue
			}
			t = time.Date(y, mo, d, next, 0, 0, 0, time.UTC)
		case e.minute&(1<<uint(t.Minute())) == 0:
			next, ok := nextBit(e.minute, t.Minute()+1, 59)
			if !ok {
				t = time.Date(y, mo, d, t.Hour()+1, 0, 0, 0, time.UTC)
				continue
			}
			t = time.Date(y, mo, d, t.Hour(), next, 0, 0, time.UTC)
		default:
			return t
		}
	}
	return time.Time{}
}

// dayMatches applies the day-of-month / day-of-week rule.
func (e *Expr) dayMatches(dom int, dow time.Weekday) bool {
	domOK, dowOK := e.dom&(1<<uint(dom)) != 0, e.dow&(1<<uint(dow)) != 0
	if e.domStar || e.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// nextBit returns the lowest set bit of set in [from, max].
func nextBit(set uint64, from, max int) (int, bool) {
	if from > max {
		return 0, false
	}
	rest := set >> uint(from)
	if rest == 0 {
		return 0, false
	}
	n := from + bits.TrailingZeros64(rest)
	return n, n <= max
}
