package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/appstrate/appstrate-go/internal/config"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t testing.TB, kid string, k []byte, retired map[string][]byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(kid, k, retired)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return kr
}

// fixedIV makes the keyring's next IVs come from iv (test hook).
func fixedIV(kr *Keyring, iv []byte) { kr.random = bytes.NewReader(bytes.Repeat(iv, 16)) }

// TestEnvelopeVector proves the layout v1:<kid>:base64(iv ‖ tag ‖ ciphertext): the expected bytes are built
// independently from the raw AES-GCM primitive, and the known-answer tag pins the whole construction.
func TestEnvelopeVector(t *testing.T) {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = byte(i)
	}
	iv := []byte{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab}
	plaintext := []byte(`{"api_key":"sk_test_123"}`)

	kr := mustKeyring(t, "k1", k, nil)
	fixedIV(kr, iv)
	env, err := kr.Encrypt(plaintext)
	if err != nil {
		t.Fatal(err)
	}

	block, _ := aes.NewCipher(k)
	gcm, _ := cipher.NewGCM(block)
	sealed := gcm.Seal(nil, iv, plaintext, nil) // ciphertext ‖ tag
	ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
	if len(tag) != 16 {
		t.Fatalf("tag is %d bytes", len(tag))
	}
	var want []byte
	want = append(want, iv...)
	want = append(want, tag...)
	want = append(want, ct...)
	wantEnv := "v1:k1:" + base64.StdEncoding.EncodeToString(want)
	if env != wantEnv {
		t.Fatalf("envelope\n got %s\nwant %s", env, wantEnv)
	}
	// Known answer produced by Node's crypto (createCipheriv("aes-256-gcm"), iv ‖ getAuthTag() ‖ ciphertext),
	// i.e. what the upstream platform writes: envelopes are readable across both implementations.
	const golden = "v1:k1:oKGio6SlpqeoqaqrU6AdRan2fppZlkgHUD8PjZ06HV0slGnaG0e98XQRn6oV3y1Po4VxTuE="
	if env != golden {
		t.Fatalf("golden envelope changed:\n got %s\nwant %s", env, golden)
	}
	got, err := kr.Decrypt(golden)
	if err != nil || !bytes.Equal(got, plaintext) {
		t.Fatalf("Decrypt(golden) = %q, %v", got, err)
	}
}

func TestRoundTripAndFreshIV(t *testing.T) {
	kr := mustKeyring(t, "k1", key(1), nil)
	for _, pt := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		a, err := kr.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := kr.Encrypt(pt)
		if a == b {
			t.Fatal("two encryptions of the same plaintext are identical: IV reused")
		}
		if !strings.HasPrefix(a, "v1:k1:") {
			t.Fatalf("prefix: %s", a)
		}
		got, err := kr.Decrypt(a)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("round trip: %q, %v", got, err)
		}
	}
}

func TestRetiredKeysAndRotation(t *testing.T) {
	old := mustKeyring(t, "k1", key(1), nil)
	env1, _ := old.Encrypt([]byte("hello"))
	kr := mustKeyring(t, "k2", key(2), map[string][]byte{"k1": key(1)})
	if got, err := kr.Decrypt(env1); err != nil || string(got) != "hello" {
		t.Fatalf("retired decrypt: %q %v", got, err)
	}
	if !kr.NeedsRotation(env1) {
		t.Fatal("k1 envelope should need rotation under k2")
	}
	env2, _ := kr.Encrypt([]byte("hello"))
	if kr.NeedsRotation(env2) || !strings.HasPrefix(env2, "v1:k2:") {
		t.Fatalf("active envelope %s", env2)
	}
	if !kr.NeedsRotation("garbage") {
		t.Fatal("a non-envelope needs rotation")
	}
	if kid, err := KIDOf(env1); err != nil || kid != "k1" {
		t.Fatalf("KIDOf = %q %v", kid, err)
	}
	if got := strings.Join(kr.KIDs(), ","); got != "k1,k2" {
		t.Fatalf("KIDs = %s", got)
	}
}

func TestDecryptErrors(t *testing.T) {
	kr := mustKeyring(t, "k1", key(1), nil)
	good, _ := kr.Encrypt([]byte(`{"a":"b"}`))
	other := mustKeyring(t, "k9", key(9), nil)
	unknown, _ := other.Encrypt([]byte("x"))
	sameKIDOtherKey := mustKeyring(t, "k1", key(7), nil)
	wrongKey, _ := sameKIDOtherKey.Encrypt([]byte("x"))

	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(good, "v1:k1:"))
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return "v1:k1:" + base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"no prefix", "k1:" + strings.TrimPrefix(good, "v1:k1:"), ErrMalformed},
		{"v2", "v2:k1:" + strings.TrimPrefix(good, "v1:k1:"), ErrMalformed},
		{"no kid", "v1::abc", ErrMalformed},
		{"no payload separator", "v1:k1", ErrMalformed},
		{"bad kid", "v1:k 1:abc", ErrMalformed},
		{"bad base64", "v1:k1:!!!", ErrMalformed},
		{"url base64", "v1:k1:" + base64.URLEncoding.EncodeToString(append(bytes.Repeat([]byte{0xfb}, 40), raw...)), ErrMalformed},
		{"too short", "v1:k1:" + base64.StdEncoding.EncodeToString(raw[:27]), ErrMalformed},
		{"unknown kid", unknown, ErrUnknownKey},
		{"flipped iv", flip(0), ErrTampered},
		{"flipped tag", flip(IVSize), ErrTampered},
		{"flipped ciphertext", flip(IVSize + TagSize), ErrTampered},
		{"truncated ciphertext", "v1:k1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), ErrTampered},
		{"same kid other key", wrongKey, ErrTampered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Decrypt(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
		})
	}
	_, err := kr.Decrypt(unknown)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.KID != "k9" || !strings.Contains(err.Error(), `"k9"`) {
		t.Fatalf("unknown kid error = %v", err)
	}
}

func TestJSON(t *testing.T) {
	kr := mustKeyring(t, "k1", key(1), nil)
	in := map[string]string{"access_token": "at", "refresh_token": "rt"}
	env, err := kr.EncryptJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := kr.DecryptJSON(env, &out); err != nil || out["access_token"] != "at" || out["refresh_token"] != "rt" {
		t.Fatalf("DecryptJSON = %v %v", out, err)
	}
	notJSON, _ := kr.Encrypt([]byte("sk_live_secret_value"))
	err = kr.DecryptJSON(notJSON, &out)
	if err == nil || strings.Contains(err.Error(), "sk_live") {
		t.Fatalf("DecryptJSON(non-JSON) = %v", err)
	}
	if _, err := kr.EncryptJSON(func() {}); err == nil {
		t.Fatal("EncryptJSON(func) succeeded")
	}
}

func TestNewKeyringValidation(t *testing.T) {
	tests := []struct {
		name    string
		kid     string
		key     []byte
		retired map[string][]byte
	}{
		{"short key", "k1", make([]byte, 16), nil},
		{"long key", "k1", make([]byte, 33), nil},
		{"bad kid", "k:1", key(1), nil},
		{"empty kid", "", key(1), nil},
		{"long kid", strings.Repeat("k", 33), key(1), nil},
		{"retired has active", "k1", key(1), map[string][]byte{"k1": key(2)}},
		{"retired short", "k1", key(1), map[string][]byte{"k0": key(2)[:31]}},
		{"retired bad kid", "k1", key(1), map[string][]byte{"k/0": key(2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeyring(tt.kid, tt.key, tt.retired); err == nil {
				t.Fatal("NewKeyring accepted an invalid configuration")
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	env := map[string]string{
		"CONNECTION_ENCRYPTION_KEY":    base64.StdEncoding.EncodeToString(key(2)),
		"CONNECTION_ENCRYPTION_KEY_ID": "k2",
		"CONNECTION_ENCRYPTION_KEYS":   `{"k1":"` + base64.StdEncoding.EncodeToString(key(1)) + `"}`,
	}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	kr, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := mustKeyring(t, "k1", key(1), nil).Encrypt([]byte("x"))
	if got, err := kr.Decrypt(old); err != nil || string(got) != "x" || kr.ActiveKID() != "k2" {
		t.Fatalf("FromConfig keyring: %q %v %s", got, err, kr.ActiveKID())
	}
	if _, err := FromConfig(&config.Config{ConnectionEncryptionKeyID: "k1"}); err == nil {
		t.Fatal("FromConfig without a key succeeded")
	}
}
