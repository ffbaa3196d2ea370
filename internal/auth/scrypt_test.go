package auth

import (
	"bytes"
	"encoding/hex"
	"testing"

	"golang.org/x/crypto/scrypt"
)

// RFC 7914 §12 test vectors (the N=1048576 one is left out: 1 GiB of memory).
func TestScryptRFC7914Vectors(t *testing.T) {
	vectors := []struct {
		password, salt string
		n, r, p        int
		want           string
	}{
		{"", "", 16, 1, 1, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"},
		{"password", "NaCl", 1024, 8, 16, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"},
		{"pleaseletmein", "SodiumChloride", 16384, 8, 1, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"},
	}
	for _, v := range vectors {
		got, err := scryptKey([]byte(v.password), []byte(v.salt), v.n, v.r, v.p, 64)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got) != v.want {
			t.Errorf("scrypt(%q, %q, %d, %d, %d) = %x", v.password, v.salt, v.n, v.r, v.p, got)
		}
	}
}

// TestScryptMatchesXCrypto compares with golang.org/x/crypto/scrypt over varied parameters and lengths
// (small N: the reference implementation is slow under the race detector).
func TestScryptMatchesXCrypto(t *testing.T) {
	for _, c := range []struct{ n, r, p, keyLen int }{{2, 1, 1, 1}, {16, 2, 3, 33}, {256, 16, 1, 64}, {64, 3, 2, 100}} {
		pw, salt := []byte("pässwörd-"+string(rune('a'+c.r))), []byte("0123456789abcdef0123456789abcdef")
		want, err := scrypt.Key(pw, salt, c.n, c.r, c.p, c.keyLen)
		if err != nil {
			t.Fatal(err)
		}
		got, err := scryptKey(pw, salt, c.n, c.r, c.p, c.keyLen)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%+v: %x, want %x (%v)", c, got, want, err)
		}
	}
	for _, bad := range []struct{ n, r, p int }{{0, 1, 1}, {3, 1, 1}, {16, 0, 1}, {16, 1, 0}, {1 << 30, 1 << 10, 1}} {
		if _, err := scryptKey(nil, nil, bad.n, bad.r, bad.p, 32); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
