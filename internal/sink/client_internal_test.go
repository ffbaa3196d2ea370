package sink

import (
	"strings"
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	p := RetryPolicy{}.withDefaults()
	for attempt, base := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		for range 50 {
			d := p.delay(attempt)
			if d < base || d > base+base/4 {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, base, base+base/4)
			}
		}
	}
	if d := p.delay(20); d < 30*time.Second || d > 30*time.Second+30*time.Second/4 {
		t.Fatalf("delay(20) = %v, want the 30 s cap plus jitter", d)
	}
}

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		in, trace, flags string
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736", "01"},
		{" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ", "4bf92f3577b34da6a3ce929d0e0e4736", "00"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "", ""},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		trace, flags := parseTraceparent(tt.in)
		if trace != tt.trace || flags != tt.flags {
			t.Errorf("parseTraceparent(%q) = %q, %q; want %q, %q", tt.in, trace, flags, tt.trace, tt.flags)
		}
	}
}

// FuzzParseTraceparent: TRACEPARENT comes from the environment; whatever it holds, the parsed trace id and flags
// are either both empty or well-formed lowercase hex taken from the input.
func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("00--")
	f.Fuzz(func(t *testing.T, in string) {
		trace, flags := parseTraceparent(in)
		if trace == "" {
			if flags != "" {
				t.Fatalf("flags %q without a trace", flags)
			}
			return
		}
		if !lowerHex(trace, 32) || !lowerHex(flags, 2) || !strings.Contains(in, trace) {
			t.Fatalf("parseTraceparent(%q) = %q, %q", in, trace, flags)
		}
	})
}
