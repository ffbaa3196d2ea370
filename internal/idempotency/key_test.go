package idempotency_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/appstrate/appstrate-go/internal/idempotency"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"uuid", "8e03978e-40d5-43e8-bc93-6894a57f9324", true},
		{"one character", "k", true},
		{"255 characters", strings.Repeat("k", 255), true},
		{"255 multi-byte characters", strings.Repeat("é", 255), true},
		{"spaces and punctuation", "order 42: retry #1", true},
		{"empty", "", false},
		{"256 characters", strings.Repeat("k", 256), false},
		{"256 multi-byte characters", strings.Repeat("é", 256), false},
		{"NUL", "a\x00b", false},
		{"tab", "a\tb", false},
		{"DEL", "a\x7fb", false},
		{"C1 control", "a\u0085b", false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := idempotency.ValidateKey(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateKey = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, idempotency.ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
		})
	}
}

func TestHashBody(t *testing.T) {
	// SHA-256 test vectors (FIPS 180-2).
	for body, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	} {
		if got := idempotency.HashBody([]byte(body)); got != want {
			t.Errorf("HashBody(%q) = %s, want %s", body, got, want)
		}
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, seed := range []string{"", "k", "8e03978e-40d5-43e8-bc93-6894a57f9324", strings.Repeat("k", 255),
		strings.Repeat("k", 256), strings.Repeat("é", 255), "a\x00b", "a\xffb", "a\u2028b", " "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := idempotency.ValidateKey(key)
		valid := key != "" && utf8.ValidString(key) && utf8.RuneCountInString(key) <= idempotency.MaxKeyLength &&
			strings.IndexFunc(key, unicode.IsControl) < 0
		if (err == nil) != valid {
			t.Fatalf("ValidateKey(%q) = %v, want valid=%v", key, err, valid)
		}
		if err != nil && !errors.Is(err, idempotency.ErrInvalidKey) {
			t.Fatalf("error %v does not wrap ErrInvalidKey", err)
		}
		if err == nil && (len(key) > 4*idempotency.MaxKeyLength || strings.ContainsRune(key, 0)) {
			t.Fatalf("accepted %q, which the database cannot store", key)
		}
	})
}
