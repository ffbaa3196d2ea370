package secrets

import (
	"bytes"
	"testing"
)

// FuzzDecrypt: Decrypt never panics on arbitrary input, and anything it accepts re-encrypts to a value that
// decrypts to the same plaintext.
func FuzzDecrypt(f *testing.F) {
	kr := mustKeyring(f, "k1", key(1), map[string][]byte{"old": key(2)})
	good, _ := kr.Encrypt([]byte(`{"api_key":"x"}`))
	old, _ := mustKeyring(f, "old", key(2), nil).Encrypt([]byte("retired"))
	for _, s := range []string{"", "v1:", "v1:k1:", "v1:k1:AAAA", good, old, good + "=", "v1:nope:" + good[6:],
		"v1:k1:" + good[6:len(good)-4], "v1:k1:====", "\x00v1:k1:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, err := kr.Decrypt(s)
		if err != nil {
			if plain != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		env, err := kr.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		again, err := kr.Decrypt(env)
		if err != nil || !bytes.Equal(again, plain) {
			t.Fatalf("re-encryption round trip failed: %v", err)
		}
		_ = kr.NeedsRotation(s)
	})
}
