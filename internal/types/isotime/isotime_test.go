package isotime_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/appstrate/appstrate-go/internal/types/isotime"
)

var paris = time.FixedZone("CEST", 2*3600)

func TestFromNormalises(t *testing.T) {
	in := time.Date(2026, 6, 3, 14, 0, 0, 123456789, paris)
	got := isotime.From(in)
	if got.Location() != time.UTC {
		t.Errorf("location = %v, want UTC", got.Location())
	}
	if want := time.Date(2026, 6, 3, 12, 0, 0, 123000000, time.UTC); !got.Time.Equal(want) || got.Nanosecond() != 123000000 {
		t.Errorf("From = %v, want %v", got.Time, want)
	}
	if !isotime.From(time.Time{}).IsZero() {
		t.Error("From(zero) is not zero")
	}
	if n := isotime.Now(); n.Nanosecond()%int(time.Millisecond) != 0 || n.Location() != time.UTC {
		t.Errorf("Now() = %v is not UTC milliseconds", n.Time)
	}
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		in   isotime.Time
		want string
	}{
		{"zero is null", isotime.Time{}, `null`},
		{"always three fraction digits", isotime.From(time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)), `"2026-06-03T12:00:00.000Z"`},
		{"nanoseconds truncated not rounded", isotime.From(time.Date(2026, 6, 3, 12, 0, 0, 999999999, time.UTC)), `"2026-06-03T12:00:00.999Z"`},
		{"offset converted to UTC", isotime.From(time.Date(2026, 6, 3, 14, 0, 0, 5e6, paris)), `"2026-06-03T12:00:00.005Z"`},
		{"hand-built value normalised", isotime.Time{Time: time.Date(2026, 6, 3, 14, 0, 0, 1, paris)}, `"2026-06-03T12:00:00.000Z"`},
		{"year zero", isotime.From(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)), `"0000-01-01T00:00:00.000Z"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestMarshalJSONRefusesUnrepresentableYears(t *testing.T) {
	for _, y := range []int{-1, 10000} {
		if _, err := json.Marshal(isotime.From(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC))); err == nil {
			t.Errorf("year %d: no error", y)
		}
	}
}

func TestMarshalJSONInStruct(t *testing.T) {
	type run struct {
		CreatedAt  isotime.Time `json:"createdAt"`
		FinishedAt isotime.Time `json:"finishedAt"`
	}
	b, err := json.Marshal(run{CreatedAt: isotime.From(time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"createdAt":"2026-06-03T12:00:00.000Z","finishedAt":null}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	want := time.Date(2026, 6, 3, 12, 0, 0, 123000000, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"canonical", `"2026-06-03T12:00:00.123Z"`, want},
		{"no fraction", `"2026-06-03T12:00:00Z"`, want.Truncate(time.Second)},
		{"long fraction truncated", `"2026-06-03T12:00:00.123987654Z"`, want},
		{"short fraction", `"2026-06-03T12:00:00.1Z"`, want.Truncate(time.Second).Add(100 * time.Millisecond)},
		{"positive offset", `"2026-06-03T14:00:00.123+02:00"`, want},
		{"negative offset", `"2026-06-03T07:30:00.123-04:30"`, want},
		{"null is zero", `null`, time.Time{}},
		{"escaped JSON string", `"2026-06-03T12:00:00\u002e123Z"`, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := isotime.Now()
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want) || (!got.IsZero() && got.Location() != time.UTC) {
				t.Errorf("got %v, want %v", got.Time, tt.want)
			}
		})
	}
}

func TestUnmarshalJSONRejects(t *testing.T) {
	for _, in := range []string{
		`""`, `"yesterday"`, `"2026-06-03"`, `"2026-06-03 12:00:00Z"`, `"2026-06-03T12:00:00"`,
		`1780488000`, `"2026-13-03T12:00:00Z"`, `"9999-12-31T23:00:00-02:00"`, `true`, `"2026-06-03T12:00:00Z`,
	} {
		t.Run(in, func(t *testing.T) {
			var got isotime.Time
			if err := json.Unmarshal([]byte(in), &got); err == nil {
				t.Errorf("accepted %s as %v", in, got.Time)
			}
		})
	}
}

func TestString(t *testing.T) {
	if s := (isotime.Time{}).String(); s != "" {
		t.Errorf("zero String() = %q", s)
	}
	tm := isotime.From(time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC))
	if s := tm.String(); s != "2026-06-03T12:00:00.000Z" {
		t.Errorf("String() = %q", s)
	}
	if got, err := isotime.Parse(tm.String()); err != nil || !got.Equal(tm) {
		t.Errorf("Parse(String()) = %v, %v", got, err)
	}
}

func TestText(t *testing.T) {
	tm := isotime.From(time.Date(2026, 6, 3, 12, 0, 0, 7e6, time.UTC))
	b, err := tm.MarshalText()
	if err != nil || string(b) != "2026-06-03T12:00:00.007Z" {
		t.Fatalf("MarshalText = %s, %v", b, err)
	}
	var back isotime.Time
	if err := back.UnmarshalText(b); err != nil || !back.Equal(tm) {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	if err := back.UnmarshalText(nil); err != nil || !back.IsZero() {
		t.Fatalf("UnmarshalText(empty) = %v, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("UnmarshalText accepted garbage")
	}
}

func TestValue(t *testing.T) {
	v, err := (isotime.Time{}).Value()
	if err != nil || v != nil {
		t.Errorf("zero Value() = %v, %v; want nil", v, err)
	}
	v, err = isotime.Time{Time: time.Date(2026, 6, 3, 14, 0, 0, 123456789, paris)}.Value()
	if err != nil {
		t.Fatal(err)
	}
	got, ok := v.(time.Time)
	if !ok {
		t.Fatalf("Value() is %T, want time.Time", v)
	}
	if want := time.Date(2026, 6, 3, 12, 0, 0, 123e6, time.UTC); got != want {
		t.Errorf("Value() = %v, want %v", got, want)
	}
}

func TestScan(t *testing.T) {
	want := time.Date(2026, 6, 3, 12, 0, 0, 123000000, time.UTC)
	tests := []struct {
		name string
		src  any
		want time.Time
	}{
		{"nil is zero", nil, time.Time{}},
		{"time.Time", want.Add(456 * time.Microsecond).In(paris), want},
		{"modernc sqlite format", "2026-06-03 12:00:00.123456+00:00", want},
		{"modernc sqlite format Z", "2026-06-03 12:00:00.123Z", want},
		{"modernc legacy String()", "2026-06-03 14:00:00.123 +0200 CEST", want},
		{"String() with monotonic clock", "2026-06-03 12:00:00.123 +0000 UTC m=+0.000123", want},
		{"sqlite datetime()", "2026-06-03 12:00:00", want.Truncate(time.Second)},
		{"sqlite strftime %f", "2026-06-03 12:00:00.123", want},
		{"RFC 3339", "2026-06-03T12:00:00.123Z", want},
		{"RFC 3339 offset", "2026-06-03T13:00:00.123+01:00", want},
		{"bytes", []byte("2026-06-03 12:00:00.123+00:00"), want},
		{"date only", "2026-06-03", time.Date(2026, 6, 3, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := isotime.Now()
			if err := got.Scan(tt.src); err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want) {
				t.Errorf("got %v, want %v", got.Time, tt.want)
			}
		})
	}
}

func TestScanRejects(t *testing.T) {
	for _, src := range []any{"not a time", []byte("2026-06-03 25:00:00"), int64(1780488000), 3.5, true} {
		var got isotime.Time
		if err := got.Scan(src); err == nil {
			t.Errorf("Scan(%#v) accepted as %v", src, got.Time)
		} else if !strings.HasPrefix(err.Error(), "isotime:") {
			t.Errorf("Scan(%#v) error %q lacks context", src, err)
		}
	}
}
