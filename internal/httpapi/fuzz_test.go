package httpapi

import (
	"net/http/httptest"
	"testing"
)

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("ff-0-0-0")
	f.Fuzz(func(t *testing.T, s string) {
		tp, ok := ParseTraceparent(s)
		if ok && (len(tp.TraceID) != 32 || len(tp.ParentID) != 16) {
			t.Fatalf("accepted malformed %q", s)
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("1.2.3.4, 5.6.7.8", "9.9.9.9", 1)
	f.Add("::ffff:1.2.3.4", "", 3)
	f.Fuzz(func(t *testing.T, xff, realIP string, hops int) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "127.0.0.1:9"
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", realIP)
		if ClientIP(r, hops%8) == "" {
			t.Fatal("empty client ip")
		}
	})
}

func FuzzParseAPIVersion(f *testing.F) {
	f.Add("2026-03-21")
	f.Add("9999-99-99")
	f.Fuzz(func(t *testing.T, s string) {
		v, p := ParseAPIVersion(s)
		if (p == nil) == (v == "") {
			t.Fatalf("inconsistent result for %q: %q %v", s, v, p)
		}
	})
}
