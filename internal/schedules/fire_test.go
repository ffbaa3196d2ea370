package schedules

import (
	"strings"
	"testing"
	"time"
)

func TestFollowingSlot(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name, expr, tz, slot, now, want string
	}{
		{"on time: the next slot", "* * * * *", "UTC", "2024-05-01T10:00:00Z", "2024-05-01T10:00:02Z", "2024-05-01T10:01:00Z"},
		{"late within the window: the next slot, already due", "* * * * *", "UTC", "2024-05-01T10:00:00Z", "2024-05-01T10:01:30Z", "2024-05-01T10:01:00Z"},
		{"behind by ten minutes: once, then after now", "* * * * *", "UTC", "2024-05-01T10:00:00Z", "2024-05-01T10:10:03Z", "2024-05-01T10:11:00Z"},
		{"daily, a day of downtime", "30 2 * * *", "Europe/Paris", "2024-05-01T00:30:00Z", "2024-05-02T09:00:00Z", "2024-05-03T00:30:00Z"},
		{"daily, a few seconds late", "30 2 * * *", "Europe/Paris", "2024-05-01T00:30:00Z", "2024-05-01T00:30:05Z", "2024-05-02T00:30:00Z"},
		{"over the spring jump", "30 2 * * *", "Europe/Paris", "2024-03-30T01:30:00Z", "2024-03-30T01:30:01Z", "2024-03-31T01:00:00Z"},
	}
	for _, c := range cases {
		got, err := followingSlot(c.expr, c.tz, at(c.slot), at(c.now))
		if err != nil || !got.Time.Equal(at(c.want)) {
			t.Fatalf("%s: %s, %v; want %s", c.name, got, err, c.want)
		}
	}
	if got, err := followingSlot("* * *", "UTC", time.Now(), time.Now()); err == nil || !got.IsZero() {
		t.Fatalf("bad expression: %s, %v", got, err)
	}
}

func TestFileInputs(t *testing.T) {
	cases := []struct{ manifest, want string }{
		{`{"input":{"schema":{"type":"object","properties":{"doc":{"type":"string","format":"uri","contentMediaType":"application/pdf"},"n":{"type":"string"}}}}}`, "doc"},
		{`{"input":{"schema":{"type":"object","properties":{"docs":{"type":"array","items":{"type":"string","format":"uri","contentMediaType":"image/*"}}}}}}`, "docs"},
		{`{"input":{"schema":{"type":"object","properties":{"link":{"type":"string","format":"uri"},"b":{"contentMediaType":"text/plain"}}}}}`, ""},
		{`{"input":{"schema":{"type":"object","properties":{"z":{"format":"uri","contentMediaType":"a/b"},"a":{"format":"uri","contentMediaType":"a/b"}}}}}`, "a,z"},
		{`{}`, ""},
		{`not json`, ""},
		{`{"input":{"schema":{"properties":{"x":42}}}}`, ""},
	}
	for _, c := range cases {
		if got := strings.Join(fileInputs([]byte(c.manifest)), ","); got != c.want {
			t.Fatalf("%s: %q, want %q", c.manifest, got, c.want)
		}
	}
}
