package providers

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/appstrate/appstrate-go/internal/credentials"
)

func readAllRedacted(t testing.TB, src io.Reader, secretValues []string, limit int64) (string, bool) {
	t.Helper()
	var svs [][]byte
	for _, s := range secretValues {
		svs = append(svs, []byte(s))
	}
	r := NewRedactingReader(io.NopCloser(src), svs, limit, nil)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), r.Truncated()
}

func TestRedactingReader(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		secrets   []string
		limit     int64
		want      string
		truncated bool
	}{
		{"no secrets", "hello world", nil, 0, "hello world", false},
		{"echoed token", `{"auth":"Bearer tok_123456"}`, []string{"tok_123456"}, 0, `{"auth":"Bearer [REDACTED]"}`, false},
		{"several occurrences", "k=secret99&again=secret99", []string{"secret99"}, 0, "k=[REDACTED]&again=[REDACTED]", false},
		{"longest first", "abcdefgh-abcd", []string{"abcd", "abcdefgh"}, 0, "[REDACTED]-[REDACTED]", false},
		{"limit", "0123456789", nil, 4, "0123", true},
		{"limit after redaction", "xx secret99 yy", []string{"secret99"}, 13, "xx [REDACTED]", true},
		{"exactly the limit", "abcd", nil, 4, "abcd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range map[string]io.Reader{
				"whole":    strings.NewReader(tt.in),
				"one byte": iotest.OneByteReader(strings.NewReader(tt.in)),
				"halves":   iotest.HalfReader(strings.NewReader(tt.in)),
			} {
				got, truncated := readAllRedacted(t, rd, tt.secrets, tt.limit)
				if got != tt.want || truncated != tt.truncated {
					t.Fatalf("got %q (truncated %v), want %q (%v)", got, truncated, tt.want, tt.truncated)
				}
			}
		})
	}
}

// FuzzRedactingReader: whatever the read boundaries, a single secret never survives and the output equals
// replacing it in the whole body.
func FuzzRedactingReader(f *testing.F) {
	f.Add([]byte("prefix secret-value suffix secret-value"), "secret-value", uint8(3))
	f.Add([]byte("sesesecretsecret"), "secret", uint8(1))
	f.Add([]byte(""), "abcdef", uint8(7))
	f.Fuzz(func(t *testing.T, body []byte, secret string, chunk uint8) {
		if len(secret) < minRedactedLen || bytes.Contains(Redacted, []byte(secret)) || strings.Contains(secret, "[") ||
			strings.Contains(secret, "]") {
			return
		}
		n := int(chunk%16) + 1
		r := NewRedactingReader(io.NopCloser(&chunkReader{b: body, n: n}), [][]byte{[]byte(secret)}, 0, nil)
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(out, []byte(secret)) {
			t.Fatalf("secret survived: %q", out)
		}
		if want := bytes.ReplaceAll(body, []byte(secret), Redacted); !bytes.Equal(out, want) && !bytes.Contains(want, []byte(secret)) {
			t.Fatalf("got %q, want %q", out, want)
		}
	})
}

type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(c.n, len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestRedactionSecrets(t *testing.T) {
	rules, err := credentials.RulesFromManifest([]byte(`{"name":"@a/z","version":"1.0.0","type":"provider",
		"definition":{"authMode":"api_key","credentials":{"schema":{"type":"object"},"fieldName":"api_key"},
		"credentialHeaderName":"X-Api-Key"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := redactionSecrets(rules, map[string]string{"api_key": "key-1234567", "subdomain": "acmecorp",
		"client_secret": "shh-123456", "short_token": "abc"})
	var names []string
	for _, g := range got {
		names = append(names, string(g))
	}
	joined := strings.Join(names, ",")
	if !strings.Contains(joined, "key-1234567") || !strings.Contains(joined, "shh-123456") {
		t.Fatalf("secrets %v lack the key or the client secret", names)
	}
	if strings.Contains(joined, "acmecorp") || strings.Contains(joined, "abc,") || joined == "abc" {
		t.Fatalf("secrets %v include a non-secret or short value", names)
	}
}

func TestForwardedAndRelayedHeaders(t *testing.T) {
	in := http.Header{"Authorization": {"Bearer ask_x"}, "Cookie": {"a=b"}, "X-Provider": {"@a/b"}, "X-Target": {"u"},
		"Accept": {"application/json"}, "X-Forwarded-For": {"1.2.3.4"}, "Content-Type": {"application/json"},
		"X-Custom": {"{{api_key}}"}, "Appstrate-User": {"eu_1"}}
	out := forwardedHeader(in)
	for _, dropped := range []string{"Authorization", "Cookie", "X-Provider", "X-Target", "X-Forwarded-For", "Appstrate-User"} {
		if out.Get(dropped) != "" {
			t.Errorf("%s forwarded", dropped)
		}
	}
	for _, kept := range []string{"Accept", "Content-Type", "X-Custom"} {
		if out.Get(kept) == "" {
			t.Errorf("%s dropped", kept)
		}
	}
	resp := http.Header{"Set-Cookie": {"s=1"}, "Content-Type": {"text/plain"}, "X-Echo": {"token tok_123456"},
		"Request-Id": {"upstream"}, "Access-Control-Allow-Origin": {"*"}}
	rel := relayedHeader(resp, [][]byte{[]byte("tok_123456")})
	if rel.Get("Set-Cookie") != "" || rel.Get("Request-Id") != "" || rel.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("relayed %v", rel)
	}
	if rel.Get("X-Echo") != "token [REDACTED]" || rel.Get("Content-Type") != "text/plain" {
		t.Fatalf("relayed %v", rel)
	}
}
