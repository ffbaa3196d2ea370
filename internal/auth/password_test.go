package auth

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// Frozen hashes produced by Node's crypto.scryptSync with Better Auth's recipe
// (password.normalize("NFKC"), salt = the 32-char hex string, N=16384 r=16 p=1 dkLen=64): an
// implementation independent of this package. They must keep verifying forever.
var frozenHashes = []struct{ password, hash string }{
	{"correct horse battery staple", "816b709e33a79ca6b7333cc787d6a4d2:6ee8d4c3a02e83c3ba909a733bef5ea63e931860f3b51498d2b6b871f127c6d876ae9ca7100e678e19c6c418f8c01927c031aff6d92ff2ba651a5b97a10320f7"},
	{"Ｐａｓｓｗｏｒｄ１２３ﬁ", "816b709e33a79ca6b7333cc787d6a4d2:9032e10270425de6361854339837b4def7c67c7088063b06d46d655396249ef408b9dabc2e20e4eea5f5067e1ab912d2457c3d445d45f2eedf33de34730a59ee"},
}

func TestFrozenBetterAuthHashesVerify(t *testing.T) {
	for _, tt := range frozenHashes {
		ok, err := CheckPasswordHash(tt.hash, tt.password)
		if err != nil || !ok {
			t.Fatalf("%q: ok=%v err=%v", tt.password, ok, err)
		}
		ok, err = CheckPasswordHash(tt.hash, tt.password+"x")
		if err != nil || ok {
			t.Fatalf("%q+x: ok=%v err=%v", tt.password, ok, err)
		}
		salt, _, _ := strings.Cut(tt.hash, ":")
		if got, err := hashPasswordWithSalt(tt.password, salt); err != nil || got != tt.hash {
			t.Fatalf("re-hash with the same salt: %s, %v", got, err)
		}
	}
	// NFKC: the full-width spelling and its ASCII normal form are the same password.
	if ok, _ := CheckPasswordHash(frozenHashes[1].hash, "Password123fi"); !ok {
		t.Fatal("NFKC-equivalent password rejected")
	}
}

// TestHashMatchesSpec rebuilds the stored value from the spec's description, independently of the
// package's helpers: scrypt(NFKC(password), []byte(saltHex), 16384, 16, 1, 64) rendered as saltHex:keyHex.
func TestHashMatchesSpec(t *testing.T) {
	const password = "Ünïcødé pässwörd ½"
	h, err := HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	salt, keyHex, ok := strings.Cut(h, ":")
	if !ok || len(salt) != 32 || strings.ToLower(salt) != salt || len(keyHex) != 128 {
		t.Fatalf("shape of %q", h)
	}
	if _, err := hex.DecodeString(salt); err != nil {
		t.Fatalf("salt is not hex: %v", err)
	}
	want, err := scrypt.Key([]byte(norm.NFKC.String(password)), []byte(salt), 16384, 16, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	if keyHex != hex.EncodeToString(want) {
		t.Fatalf("key %s, want %x", keyHex, want)
	}
	h2, _ := HashPassword(password)
	if h2 == h {
		t.Fatal("two hashes share a salt")
	}
}

func TestCheckPasswordHashMalformed(t *testing.T) {
	for _, hash := range []string{"", ":", "abc", "abc:", ":abcd", "salt:nothex", "salt:zz"} {
		ok, err := CheckPasswordHash(hash, "whatever")
		if ok || !errors.Is(err, ErrInvalidPasswordHash) {
			t.Errorf("%q: ok=%v err=%v", hash, ok, err)
		}
	}
}

func TestCheckPasswordLength(t *testing.T) {
	tests := []struct {
		name     string
		password string
		tooShort bool
		tooLong  bool
	}{
		{"7 chars", "1234567", true, false},
		{"8 chars", "12345678", false, false},
		{"128 chars", strings.Repeat("a", 128), false, false},
		{"129 chars", strings.Repeat("a", 129), false, true},
		{"accents count once", "éééééééé", false, false},
		{"4 emoji are 8 UTF-16 units", "😀😀😀😀", false, false},
		{"3 emoji are 6 UTF-16 units", "😀😀😀", true, false},
		{"65 emoji are 130 UTF-16 units", strings.Repeat("😀", 65), false, true},
	}
	for _, tt := range tests {
		err := CheckPasswordLength(tt.password)
		var le *PasswordLengthError
		switch {
		case tt.tooShort || tt.tooLong:
			if !errors.As(err, &le) || le.TooLong != tt.tooLong {
				t.Errorf("%s: %v", tt.name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestGenerateID(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		id := GenerateID(32)
		if len(id) != 32 || !validToken(id) || strings.ContainsAny(id, "-_") {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
