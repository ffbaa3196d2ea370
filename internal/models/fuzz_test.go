package models

import (
	"net/url"
	"strings"
	"testing"
)

func TestMaskKey(t *testing.T) {
	for key, want := range map[string]string{
		"":                              "••••",
		"short":                         "••••",
		"sk-ant-api03-abcdefghijklmnop": "sk-…mnop",
		"sk-0123456789ab":               "sk-…89ab",
	} {
		if got := MaskKey(key); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// FuzzMaskKey: the hint never shows more than 7 characters of the key, nor a key shorter than 12.
func FuzzMaskKey(f *testing.F) {
	for _, s := range []string{"", "k", "sk-0123456789ab", "sk-ant-api03-abcdefghijklmnop", "ééééééééééééé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		h := MaskKey(key)
		if len(key) < 12 && h != "••••" {
			t.Fatalf("short key %q shown as %q", key, h)
		}
		if len(key) >= 12 && len(h) != 3+len("…")+4 {
			t.Fatalf("hint %q of %q", h, key)
		}
	})
}

// FuzzCheckBaseURL: an accepted base URL is http(s) with a host and no user info.
func FuzzCheckBaseURL(f *testing.F) {
	for _, s := range []string{"https://api.openai.com/v1", "http://127.0.0.1:11434/v1", "ftp://x", "https://u:p@h/", "//h", "http://", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkBaseURL(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
		if strings.TrimSpace(u.Host) == "" {
			t.Fatalf("accepted blank host %q", raw)
		}
	})
}
