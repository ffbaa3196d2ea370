package webhooks

import (
	"encoding/base64"
	"strings"
	"testing"
)

// The example of the Standard Webhooks specification (its secret has no character where base64 and base64url
// differ, so it decodes the same way).
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`),
		"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %q, want %q", got, want)
	}
}

func TestSignSeveralSecrets(t *testing.T) {
	a, _ := NewSecret()
	b, _ := NewSecret()
	both, err := Sign("evt_1", 42, []byte("{}"), a, b)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := Sign("evt_1", 42, []byte("{}"), a)
	two, _ := Sign("evt_1", 42, []byte("{}"), b)
	if both != one+" "+two {
		t.Fatalf("%q is not %q + %q", both, one, two)
	}
	if _, err := Sign("evt_1", 42, nil); err == nil {
		t.Fatal("signing without a secret succeeded")
	}
	if _, err := Sign("evt_1", 42, nil, "nope"); err == nil {
		t.Fatal("a secret without whsec_ was accepted")
	}
}

func TestNewSecret(t *testing.T) {
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	enc, ok := strings.CutPrefix(s, "whsec_")
	if !ok || len(enc) != 43 {
		t.Fatalf("secret %q: want whsec_ + 43 base64url characters", s)
	}
	if key, err := base64.RawURLEncoding.DecodeString(enc); err != nil || len(key) != 32 {
		t.Fatalf("secret %q does not decode to 32 bytes: %v", s, err)
	}
	if other, _ := NewSecret(); other == s {
		t.Fatal("two secrets are equal")
	}
}

func TestRetryDelay(t *testing.T) {
	want := []string{"30s", "5m0s", "30m0s", "1h0m0s", "2h0m0s", "3h0m0s", "4h0m0s"}
	for i, w := range want {
		if got := RetryDelay(i + 1).String(); got != w {
			t.Errorf("after attempt %d: %s, want %s", i+1, got, w)
		}
	}
	var total float64
	for _, d := range RetryDelays {
		total += d.Hours()
	}
	if total < 10.5 || total > 10.7 {
		t.Errorf("the schedule spans %.2f h, want about 10.6 h", total)
	}
}
